#pragma once
// QR codes (Debian's libqrencode) drawn as SVG or PNG, for showing a
// git-pull link on the projector.  Pure functions, thread-safe.
#include <string>
#include <string_view>
#include <vector>

namespace hub::courses {

// The modules of the QR code of `text` (8-bit mode, error correction level
// M), row by row, true = dark; `width` modules per side, without the quiet
// zone.  Throws std::invalid_argument when `text` is empty or too long for
// a QR code (about 2,300 bytes at level M).
struct QrMatrix {
  int width = 0;
  std::vector<bool> dark;  // width * width
  bool at(int x, int y) const { return dark[static_cast<std::size_t>(y * width + x)]; }
};
QrMatrix qr_encode(std::string_view text);

// A standalone SVG document: black modules on white, a 4-module quiet zone,
// scalable (viewBox in modules), crisp edges.
std::string qr_svg(const QrMatrix& qr);
// An 8-bit greyscale PNG, `scale` pixels per module (1-40), with the quiet zone.
std::string qr_png(const QrMatrix& qr, int scale);

}  // namespace hub::courses
