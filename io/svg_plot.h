// Small, dependency-free SVG figures that open in any browser or vector editor: the study's Fig. 4
// (two measures per subject, paired) and scatter plots with a least-squares line.
#pragma once

#include <string>
#include <vector>

namespace mlens::io {

struct Axes {
  std::string title, x_label, y_label;
};

// Two columns of points (left: `a`, right: `b`) with a grey line joining each subject's pair and the
// means in colour. Written atomically.
void write_paired_plot(const std::string& path, const std::vector<double>& a, const std::vector<double>& b,
                       const std::string& a_label, const std::string& b_label, const Axes& axes);

// Points (x, y) and their least-squares line; with `identity` also the dashed line y = x on equal axis
// ranges (predicted against true values). Written atomically.
void write_scatter_plot(const std::string& path, const std::vector<double>& x, const std::vector<double>& y,
                        const Axes& axes, bool identity = false);

}  // namespace mlens::io
