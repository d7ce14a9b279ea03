#include "io/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "io/atomic_file.h"

namespace mlens::io {
namespace {

constexpr double kWidth = 660, kHeight = 480, kLeft = 105, kRight = 45, kTop = 50, kBottom = 70;

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// A linear map from data to pixels with a 5 % margin, and the frame, ticks and labels around it.
struct Frame {
  double x0, x1, y0, y1;
  double px(double x) const { return kLeft + (x - x0) / (x1 - x0) * (kWidth - kLeft - kRight); }
  double py(double y) const { return kHeight - kBottom - (y - y0) / (y1 - y0) * (kHeight - kTop - kBottom); }
};

void range(const std::vector<double>& v, double& lo, double& hi) {
  lo = INFINITY;
  hi = -INFINITY;
  for (double x : v)
    if (std::isfinite(x)) {
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  if (hi == lo) lo -= 0.5, hi += 0.5;
  const double pad = 0.05 * (hi - lo);
  lo -= pad;
  hi += pad;
}

std::string open_svg(const Frame& f, const Axes& axes, bool x_ticks) {
  std::ostringstream s;
  // The viewBox lets a page scale the figure without cutting it (report.html inlines these).
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << kHeight << "\" viewBox=\"0 0 "
    << kWidth << " " << kHeight << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"13\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << kWidth / 2 << "\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">" << escape(axes.title) << "</text>\n"
    << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << kWidth - kLeft - kRight << "\" height=\""
    << kHeight - kTop - kBottom << "\" fill=\"none\" stroke=\"black\"/>\n";
  for (int i = 0; i <= 4; ++i) {
    const double y = f.y0 + (f.y1 - f.y0) * i / 4;
    s << "<text x=\"" << kLeft - 6 << "\" y=\"" << f.py(y) + 4 << "\" text-anchor=\"end\">" << number(y) << "</text>\n";
    if (x_ticks) {
      const double x = f.x0 + (f.x1 - f.x0) * i / 4;
      s << "<text x=\"" << f.px(x) << "\" y=\"" << kHeight - kBottom + 18 << "\" text-anchor=\"middle\">" << number(x)
        << "</text>\n";
    }
  }
  s << "<text x=\"" << kWidth / 2 << "\" y=\"" << kHeight - 20 << "\" text-anchor=\"middle\">" << escape(axes.x_label)
    << "</text>\n"
    << "<text transform=\"translate(18," << kHeight / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
    << escape(axes.y_label) << "</text>\n";
  return s.str();
}

}  // namespace

void write_paired_plot(const std::string& path, const std::vector<double>& a, const std::vector<double>& b,
                       const std::string& a_label, const std::string& b_label, const Axes& axes) {
  std::vector<double> all = a;
  all.insert(all.end(), b.begin(), b.end());
  Frame f{0, 3, 0, 1};
  range(all, f.y0, f.y1);
  std::ostringstream s;
  s << open_svg(f, axes, false);
  double mean_a = 0, mean_b = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    s << "<line x1=\"" << f.px(1) << "\" y1=\"" << f.py(a[i]) << "\" x2=\"" << f.px(2) << "\" y2=\"" << f.py(b[i])
      << "\" stroke=\"#999\" stroke-opacity=\"0.35\"/>\n";
    s << "<circle cx=\"" << f.px(1) << "\" cy=\"" << f.py(a[i]) << "\" r=\"2\" fill=\"#555\"/>"
      << "<circle cx=\"" << f.px(2) << "\" cy=\"" << f.py(b[i]) << "\" r=\"2\" fill=\"#555\"/>\n";
    mean_a += a[i] / static_cast<double>(a.size());
    mean_b += b[i] / static_cast<double>(b.size());
  }
  s << "<line x1=\"" << f.px(1) << "\" y1=\"" << f.py(mean_a) << "\" x2=\"" << f.px(2) << "\" y2=\"" << f.py(mean_b)
    << "\" stroke=\"#c0392b\" stroke-width=\"3\"/>\n";
  for (auto [x, label] : {std::pair{1.0, a_label}, {2.0, b_label}})
    s << "<text x=\"" << f.px(x) << "\" y=\"" << kHeight - kBottom + 18 << "\" text-anchor=\"middle\">" << escape(label)
      << "</text>\n";
  s << "</svg>\n";
  write_text_atomically(path, s.str());
}

void write_scatter_plot(const std::string& path, const std::vector<double>& x, const std::vector<double>& y,
                        const Axes& axes, bool identity) {
  Frame f{0, 1, 0, 1};
  range(x, f.x0, f.x1);
  range(y, f.y0, f.y1);
  if (identity) {
    f.x0 = f.y0 = std::min(f.x0, f.y0);
    f.x1 = f.y1 = std::max(f.x1, f.y1);
  }
  std::ostringstream s;
  s << open_svg(f, axes, true);
  if (identity)
    s << "<line x1=\"" << f.px(f.x0) << "\" y1=\"" << f.py(f.y0) << "\" x2=\"" << f.px(f.x1) << "\" y2=\"" << f.py(f.y1)
      << "\" stroke=\"#888\" stroke-width=\"1\" stroke-dasharray=\"5,4\"/>\n";
  double n = 0, mx = 0, my = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
    s << "<circle cx=\"" << f.px(x[i]) << "\" cy=\"" << f.py(y[i]) << "\" r=\"2.5\" fill=\"#2c7fb8\" fill-opacity=\"0.7\"/>\n";
    n += 1;
    mx += x[i];
    my += y[i];
  }
  if (n >= 2) {
    mx /= n;
    my /= n;
    double sxy = 0, sxx = 0;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (std::isfinite(x[i]) && std::isfinite(y[i])) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
      }
    if (sxx > 0) {
      const double slope = sxy / sxx;
      s << "<line x1=\"" << f.px(f.x0) << "\" y1=\"" << f.py(my + slope * (f.x0 - mx)) << "\" x2=\"" << f.px(f.x1)
        << "\" y2=\"" << f.py(my + slope * (f.x1 - mx)) << "\" stroke=\"#c0392b\" stroke-width=\"2\"/>\n";
    }
  }
  s << "</svg>\n";
  write_text_atomically(path, s.str());
}

}  // namespace mlens::io
