#pragma once
// Small cryptographic helpers over OpenSSL.  Thread-safe.
#include <string>
#include <string_view>

namespace hub::crypto {

// `n` bytes from the OS's CSPRNG (OpenSSL RAND_bytes); throws on failure.
std::string random_bytes(std::size_t n);
// A random token of `n` bytes as lowercase hex (2n characters).
std::string random_hex(std::size_t n);
std::string to_hex(std::string_view bytes);
// URL-safe base64 without padding.
std::string base64url(std::string_view bytes);
std::string sha256_hex(std::string_view data);
// HMAC-SHA256(key, data) as URL-safe base64 without padding.
std::string hmac_sha256_b64(std::string_view key, std::string_view data);
// Compares in time independent of where the strings differ.
bool constant_time_equals(std::string_view a, std::string_view b);

}  // namespace hub::crypto
