#include "courses/qr_code.hpp"

#include <qrencode.h>
#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <stdexcept>

#include "common/c_handle.hpp"

namespace hub::courses {
namespace {

using QrHandle = common::CHandle<QRcode, QRcode_free>;
constexpr int kQuiet = 4;

void put_u32(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>((v >> 24) & 0xff));
  out.push_back(static_cast<char>((v >> 16) & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

void put_chunk(std::string& out, const char* type, const std::string& data) {
  put_u32(out, static_cast<std::uint32_t>(data.size()));
  std::string body = std::string(type, 4) + data;
  out += body;
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  put_u32(out, static_cast<std::uint32_t>(crc));
}

}  // namespace

QrMatrix qr_encode(std::string_view text) {
  if (text.empty()) throw std::invalid_argument("nothing to encode");
  std::string s(text);
  errno = 0;
  QrHandle code(QRcode_encodeString8bit(s.c_str(), 0, QR_ECLEVEL_M));
  if (!code) {
    if (errno == ERANGE) throw std::invalid_argument("the text is too long for a QR code");
    throw std::runtime_error("QR encoding failed");
  }
  QrMatrix m;
  m.width = code->width;
  m.dark.resize(static_cast<std::size_t>(m.width * m.width));
  for (int i = 0; i < m.width * m.width; ++i) m.dark[static_cast<std::size_t>(i)] = (code->data[i] & 1) != 0;
  return m;
}

std::string qr_svg(const QrMatrix& qr) {
  const int size = qr.width + 2 * kQuiet;
  std::string path;
  for (int y = 0; y < qr.width; ++y) {
    for (int x = 0; x < qr.width;) {
      if (!qr.at(x, y)) {
        ++x;
        continue;
      }
      int run = 1;
      while (x + run < qr.width && qr.at(x + run, y)) ++run;
      path += "M" + std::to_string(x + kQuiet) + " " + std::to_string(y + kQuiet) + "h" + std::to_string(run) +
              "v1h-" + std::to_string(run) + "z";
      x += run;
    }
  }
  std::string n = std::to_string(size);
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + n + " " + n +
         "\" shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"QR code\">"
         "<rect width=\"" + n + "\" height=\"" + n + "\" fill=\"#fff\"/>"
         "<path fill=\"#000\" d=\"" + path + "\"/></svg>\n";
}

std::string qr_png(const QrMatrix& qr, int scale) {
  if (scale < 1 || scale > 40) throw std::invalid_argument("scale must be 1-40");
  const int side = (qr.width + 2 * kQuiet) * scale;
  std::string raw;
  raw.reserve(static_cast<std::size_t>(side) * (side + 1));
  for (int py = 0; py < side; ++py) {
    raw.push_back('\0');  // filter: none
    int y = py / scale - kQuiet;
    for (int px = 0; px < side; ++px) {
      int x = px / scale - kQuiet;
      bool dark = x >= 0 && y >= 0 && x < qr.width && y < qr.width && qr.at(x, y);
      raw.push_back(dark ? '\0' : static_cast<char>(0xff));
    }
  }
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size, reinterpret_cast<const Bytef*>(raw.data()),
                static_cast<uLong>(raw.size()), 9) != Z_OK)
    throw std::runtime_error("PNG compression failed");
  packed.resize(packed_size);

  std::string png("\x89PNG\r\n\x1a\n", 8);
  std::string header;
  put_u32(header, static_cast<std::uint32_t>(side));
  put_u32(header, static_cast<std::uint32_t>(side));
  header += std::string("\x08\x00\x00\x00\x00", 5);  // 8-bit greyscale, deflate, no filter, no interlace
  put_chunk(png, "IHDR", header);
  put_chunk(png, "IDAT", packed);
  put_chunk(png, "IEND", "");
  return png;
}

}  // namespace hub::courses
