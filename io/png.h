// 8-bit RGB images written as PNG (through ITK's PNG IO), for figures and report panels.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mlens::io {

struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // row-major, top row first, 3 bytes per pixel

  RgbImage() = default;
  RgbImage(int w, int h) : width(w), height(h), rgb(static_cast<std::size_t>(w) * h * 3, 0) {}
  uint8_t* pixel(int x, int y) { return &rgb[(static_cast<std::size_t>(y) * width + x) * 3]; }
};

// Writes atomically; errors name the file.
void write_png(const std::string& path, const RgbImage& image);

}  // namespace mlens::io
