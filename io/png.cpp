#include "io/png.h"

#include <itkImage.h>
#include <itkImageFileWriter.h>
#include <itkPNGImageIO.h>
#include <itkRGBPixel.h>

#include <algorithm>
#include <stdexcept>

#include "io/atomic_file.h"

namespace mlens::io {

void write_png(const std::string& path, const RgbImage& image) {
  if (image.width <= 0 || image.height <= 0 || image.rgb.size() != static_cast<std::size_t>(image.width) * image.height * 3)
    throw std::invalid_argument("write_png(\"" + path + "\"): the image's size does not match its pixels");
  using Png = itk::Image<itk::RGBPixel<uint8_t>, 2>;
  auto out = Png::New();
  Png::SizeType size;
  size[0] = image.width;
  size[1] = image.height;
  out->SetRegions(size);
  out->Allocate();
  std::copy(image.rgb.begin(), image.rgb.end(), reinterpret_cast<uint8_t*>(out->GetBufferPointer()));
  write_atomically(path, [&](const std::string& tmp) {
    auto writer = itk::ImageFileWriter<Png>::New();
    writer->SetImageIO(itk::PNGImageIO::New());
    writer->SetFileName(tmp);
    writer->SetInput(out);
    try {
      writer->Update();
    } catch (const itk::ExceptionObject& e) {
      throw std::runtime_error("\"" + path + "\": writing PNG failed (" + e.GetDescription() + ")");
    }
  });
}

}  // namespace mlens::io
