#include "base/strings.h"

#include <cstdio>

namespace sylva {

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string join_words(const std::vector<std::string>& parts, const std::string& word) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += i + 1 == parts.size() ? " " + word + " " : ", ";
    out += parts[i];
  }
  return out;
}

uint64_t fnv1a64(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string hash_hex(uint64_t hash) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(hash));
  return buf;
}

std::string quote_cut(std::string_view text, size_t max) {
  std::string out;
  size_t i = 0;
  for (; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    char piece[5] = {static_cast<char>(c), 0, 0, 0, 0};
    if (c == '\n' || c == '\t' || c == '\r') {
      piece[0] = '\\';
      piece[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
    } else if (c < 0x20 || c == 0x7F) {
      std::snprintf(piece, sizeof(piece), "\\x%02X", c);
    }
    const size_t n = std::char_traits<char>::length(piece);
    if (out.size() + n > max) break;
    out.append(piece, n);
  }
  if (i == text.size()) return out;
  // Not inside a UTF-8 character: its bytes were copied one for one, so
  // dropping the continuation bytes (10xxxxxx) and their lead byte aligns.
  while (i > 0 && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) {
    --i;
    out.pop_back();
  }
  return out + "... (" + std::to_string(text.size()) + " bytes)";
}

}  // namespace sylva
