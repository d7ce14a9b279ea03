#include "engine/simulate.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "engine/parallel.h"
#include "io/table.h"
#include "io/warp.h"

namespace mlens::engine {
namespace {

using Int3 = std::array<int64_t, 3>;
using Vec3 = std::array<double, 3>;
constexpr double kPi = 3.14159265358979323846;

// splitmix64: small, fast, and the same on every platform (std::normal_distribution is not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u = 1.0 - uniform(), v = uniform();
    const double r = std::sqrt(-2.0 * std::log(u));
    spare_ = r * std::sin(2 * kPi * v);
    has_spare_ = true;
    return r * std::cos(2 * kPi * v);
  }
  int poisson(double mean) {  // Knuth; means here stay below ~40
    const double limit = std::exp(-mean);
    int k = 0;
    for (double p = uniform(); p > limit; p *= uniform()) ++k;
    return k;
  }

 private:
  uint64_t state_;
  double spare_ = 0;
  bool has_spare_ = false;
};

uint64_t mix(uint64_t a, uint64_t b) { return Rng(a * 0x2545F4914F6CDD1Dull ^ (b + 0x632BE59BD9B4E019ull)).next(); }

// Separable Gaussian smoothing (σ in voxels), truncated at 3σ, edges clamped.
void smooth(std::vector<float>& f, const Int3& shape, double sigma) {
  const int radius = static_cast<int>(std::ceil(3 * sigma));
  std::vector<float> kernel(2 * radius + 1);
  double total = 0;
  for (int d = -radius; d <= radius; ++d) total += kernel[d + radius] = static_cast<float>(std::exp(-0.5 * d * d / (sigma * sigma)));
  for (float& k : kernel) k = static_cast<float>(k / total);
  const Int3 stride{shape[1] * shape[2], shape[2], 1};
  std::vector<float> line;
  for (int axis = 0; axis < 3; ++axis) {
    const int64_t n = shape[axis];
    line.resize(n);
    const int a1 = (axis + 1) % 3, a2 = (axis + 2) % 3;
    for (int64_t p = 0; p < shape[a1]; ++p)
      for (int64_t q = 0; q < shape[a2]; ++q) {
        const int64_t base = p * stride[a1] + q * stride[a2];
        for (int64_t i = 0; i < n; ++i) line[i] = f[base + i * stride[axis]];
        for (int64_t i = 0; i < n; ++i) {
          float s = 0;
          for (int d = -radius; d <= radius; ++d) s += kernel[d + radius] * line[std::clamp<int64_t>(i + d, 0, n - 1)];
          f[base + i * stride[axis]] = s;
        }
      }
  }
}

// Trilinear interpolation at a fractional voxel index; `clamp_edges` repeats the border (for
// displacement fields), otherwise points outside the grid read 0.
float sample(const float* f, const Int3& shape, const Vec3& x, bool clamp_edges = false) {
  std::array<int64_t, 3> i0;
  std::array<float, 3> w;
  for (int a = 0; a < 3; ++a) {
    double c = x[a];
    if (clamp_edges) c = std::clamp(c, 0.0, static_cast<double>(shape[a] - 1));
    else if (c < 0 || c > shape[a] - 1) return 0;
    i0[a] = std::min<int64_t>(static_cast<int64_t>(c), shape[a] - 2);
    w[a] = static_cast<float>(c - i0[a]);
  }
  const int64_t sj = shape[2], si = shape[1] * shape[2];
  const float* p = f + i0[0] * si + i0[1] * sj + i0[2];
  const auto lerp = [](float a, float b, float t) { return a + t * (b - a); };
  const float c00 = lerp(p[0], p[1], w[2]), c01 = lerp(p[sj], p[sj + 1], w[2]);
  const float c10 = lerp(p[si], p[si + 1], w[2]), c11 = lerp(p[si + sj], p[si + sj + 1], w[2]);
  return lerp(lerp(c00, c01, w[1]), lerp(c10, c11, w[1]), w[0]);
}

// World (LPS mm) → fractional voxel index, for orthonormal direction cosines.
Vec3 index_of(const io::Geometry& g, const Vec3& p) {
  Vec3 idx{};
  for (int s = 0; s < 3; ++s) {
    double d = 0;
    for (int r = 0; r < 3; ++r) d += g.direction[3 * r + s] * (p[r] - g.origin[r]);
    idx[s] = d / g.spacing[s];
  }
  return idx;
}

float smoothstep(double x) {
  x = std::clamp(x, 0.0, 1.0);
  return static_cast<float>(x * x * (3 - 2 * x));
}

io::Volume empty_like(const io::Volume& grid) {
  io::Volume v;
  v.shape = grid.shape;
  v.geometry = grid.geometry;
  v.voxels.assign(grid.size(), 0.f);
  return v;
}

// The three class means of the brain's T1 intensities (1D k-means, deterministic start at percentiles).
std::array<double, 3> tissue_means(const std::vector<float>& t1) {
  std::vector<float> brain;
  for (float v : t1)
    if (v > 0) brain.push_back(v);
  std::sort(brain.begin(), brain.end());
  std::array<double, 3> mu{brain[brain.size() / 10], brain[brain.size() / 2], brain[brain.size() * 9 / 10]};
  for (int iteration = 0; iteration < 50; ++iteration) {
    std::array<double, 3> sum{}, n{};
    for (float v : brain) {
      int best = 0;
      for (int c = 1; c < 3; ++c)
        if (std::abs(v - mu[c]) < std::abs(v - mu[best])) best = c;
      sum[best] += v;
      n[best] += 1;
    }
    for (int c = 0; c < 3; ++c)
      if (n[c] > 0) mu[c] = sum[c] / n[c];
  }
  return mu;
}

std::array<double, 9> random_rotation(Rng& rng, double sd_degrees) {
  const double ax = rng.normal() * sd_degrees * kPi / 180, ay = rng.normal() * sd_degrees * kPi / 180,
               az = rng.normal() * sd_degrees * kPi / 180;
  const double cx = std::cos(ax), sx = std::sin(ax), cy = std::cos(ay), sy = std::sin(ay), cz = std::cos(az),
               sz = std::sin(az);
  // Rz · Ry · Rx
  return {cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx,
          sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx,
          -sy,     cy * sx,                cy * cx};
}

// A random orthonormal frame (Gram-Schmidt on Gaussian vectors), rows are the axes.
std::array<Vec3, 3> random_frame(Rng& rng) {
  std::array<Vec3, 3> e{};
  for (int r = 0; r < 3; ++r) {
    for (double& x : e[r]) x = rng.normal();
    for (int q = 0; q < r; ++q) {
      const double d = e[r][0] * e[q][0] + e[r][1] * e[q][1] + e[r][2] * e[q][2];
      for (int a = 0; a < 3; ++a) e[r][a] -= d * e[q][a];
    }
    const double n = std::sqrt(e[r][0] * e[r][0] + e[r][1] * e[r][1] + e[r][2] * e[r][2]);
    for (double& x : e[r]) x /= n;
  }
  return e;
}

// Renders one lesion into `lesion` (max over lesions) and returns whether any voxel exceeds 0.5.
bool add_lesion(const SimulationTemplate& t, std::vector<float>& lesion, int64_t centre, double radius, Rng& rng) {
  const Int3& s = t.grid.shape;
  const Int3 c{centre / (s[1] * s[2]), (centre / s[2]) % s[1], centre % s[2]};
  const std::array<Vec3, 3> frame = random_frame(rng);
  const Vec3 axes{radius * rng.uniform(0.9, 1.7), radius * rng.uniform(0.6, 1.0), radius * rng.uniform(0.5, 0.9)};
  const std::array<Vec3, 2> lobes = {random_frame(rng)[0], random_frame(rng)[1]};
  const double phase1 = rng.uniform(0, 2 * kPi), phase2 = rng.uniform(0, 2 * kPi);
  const Vec3& sp = t.grid.geometry.spacing;
  bool visible = false;
  const double reach = 1.35 * axes[0] * 1.4;
  Int3 lo, hi;
  for (int a = 0; a < 3; ++a) {
    lo[a] = std::max<int64_t>(0, c[a] - static_cast<int64_t>(std::ceil(reach / sp[a])));
    hi[a] = std::min<int64_t>(s[a] - 1, c[a] + static_cast<int64_t>(std::ceil(reach / sp[a])));
  }
  for (int64_t i = lo[0]; i <= hi[0]; ++i)
    for (int64_t j = lo[1]; j <= hi[1]; ++j)
      for (int64_t k = lo[2]; k <= hi[2]; ++k) {
        const Vec3 d{(i - c[0]) * sp[0], (j - c[1]) * sp[1], (k - c[2]) * sp[2]};
        const double dist = std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
        double rho2 = 0;
        for (int r = 0; r < 3; ++r) {
          const double q = (frame[r][0] * d[0] + frame[r][1] * d[1] + frame[r][2] * d[2]) / axes[r];
          rho2 += q * q;
        }
        double wobble = 1;
        if (dist > 0) {
          const auto along = [&](const Vec3& v) { return (v[0] * d[0] + v[1] * d[1] + v[2] * d[2]) / dist; };
          wobble += 0.22 * std::sin(3 * along(lobes[0]) + phase1) + 0.15 * std::sin(5 * along(lobes[1]) + phase2);
        }
        const double rho = std::sqrt(rho2) / wobble;
        const int64_t v = (i * s[1] + j) * s[2] + k;
        // Lesions are white-matter lesions: they fade where the tissue is not white matter.
        const float p = static_cast<float>(std::clamp((1.25 - rho) / 0.5, 0.0, 1.0)) *
                        std::clamp(2.5f * t.wm[v] - 0.5f, 0.f, 1.f);
        if (p > lesion[v]) lesion[v] = p;
        visible = visible || p > 0.5f;
      }
  return visible;
}

}  // namespace

SimulationTemplate load_simulation_template(const std::string& directory) {
  const std::string anatomy = directory + "/ch2bet.nii.gz", mni = directory + "/JHU-WhiteMatter-labels-2mm.nii.gz";
  for (const std::string& f : {anatomy, mni})
    if (!std::filesystem::exists(f))
      throw std::runtime_error("\"" + f + "\": no such file (the simulator needs Debian's mricron-data, or --templates DIR)");
  SimulationTemplate t;
  io::Volume t1 = io::read_volume(anatomy);
  t.mni_2mm = io::read_volume(mni);
  t.mni_2mm.voxels.clear();
  for (const io::Volume* g : {&t1, &t.mni_2mm})
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c)
        if (r != c && std::abs(g->geometry.direction[3 * r + c]) > 1e-6)
          throw std::runtime_error("\"" + (g == &t1 ? anatomy : mni) + "\": expected axis-aligned direction cosines");
  const Int3 shape = t1.shape;
  const int64_t n = t1.size();

  const std::array<double, 3> mu = tissue_means(t1.voxels);
  t.csf.assign(n, 0.f);
  t.gm.assign(n, 0.f);
  t.wm.assign(n, 0.f);
  std::vector<float> brain(n, 0.f);
  for (int64_t v = 0; v < n; ++v) {
    const double x = t1.voxels[v];
    if (x <= 0) continue;
    brain[v] = 1;
    if (x <= mu[0]) t.csf[v] = 1;
    else if (x < mu[1]) t.gm[v] = static_cast<float>((x - mu[0]) / (mu[1] - mu[0])), t.csf[v] = 1 - t.gm[v];
    else if (x < mu[2]) t.wm[v] = static_cast<float>((x - mu[1]) / (mu[2] - mu[1])), t.gm[v] = 1 - t.wm[v];
    else t.wm[v] = 1;
  }
  t.outer.resize(n);
  for (int64_t v = 0; v < n; ++v) t.outer[v] = 1 - t.gm[v] - t.wm[v];
  smooth(t.outer, shape, 1.5);

  std::vector<float> depth = brain;
  smooth(depth, shape, 6);
  std::vector<float> near_ventricle(n, 0.f);
  Vec3 centre{};
  double ventricle_voxels = 0;
  for (int64_t v = 0; v < n; ++v)
    if (t.csf[v] > 0.6f && depth[v] > 0.93f) {
      near_ventricle[v] = 1;
      const Vec3 p = t1.geometry.world({double(v / (shape[1] * shape[2])), double((v / shape[2]) % shape[1]), double(v % shape[2])});
      for (int a = 0; a < 3; ++a) centre[a] += p[a];
      ventricle_voxels += 1;
    }
  if (ventricle_voxels < 1000)
    throw std::runtime_error("\"" + anatomy + "\": could not find the ventricles (is this a skull-stripped T1 brain?)");
  for (double& c : centre) c /= ventricle_voxels;
  t.ventricle_centre = centre;
  smooth(near_ventricle, shape, 3);
  for (int64_t v = 0; v < n; ++v) {
    if (t.wm[v] > 0.7f && near_ventricle[v] > 0.04f) t.periventricular.push_back(v);
    if (t.wm[v] > 0.9f && near_ventricle[v] < 0.005f && depth[v] > 0.9f) t.deep.push_back(v);
  }
  t1.voxels.clear();
  t.grid = std::move(t1);
  return t;
}

SimulatedSubject simulate_subject(const SimulationTemplate& t, double age, uint64_t seed) {
  Rng rng(seed);
  SimulatedSubject out;
  out.age = age;
  const double a = std::clamp((age - 18) / 64, 0.0, 1.0);  // 0 at 18, 1 at 82
  const Int3& shape = t.grid.shape;
  const int64_t n = t.grid.size();

  // Template space: ageing tissue and FLAIR contrast.
  const double atrophy = std::exp(0.25 * rng.normal());
  const double threshold = std::max(0.12, 0.62 - 0.40 * a * atrophy);
  const double contrast = 1 + 0.03 * rng.normal();
  const float mu_csf = 0.08f, mu_gm = static_cast<float>(0.62 * contrast), mu_wm = 0.42f, mu_lesion = 1.0f;
  std::vector<float> flair(n), brain(n);
  for (int64_t v = 0; v < n; ++v) {
    const float converted = t.gm[v] * smoothstep((t.outer[v] - threshold) / 0.25);
    const float gm = t.gm[v] - converted, csf = t.csf[v] + converted;
    flair[v] = csf * mu_csf + gm * mu_gm + t.wm[v] * mu_wm;
    brain[v] = t.csf[v] + t.gm[v] + t.wm[v];
  }
  std::vector<float> lesion(n, 0.f);
  const double load = std::exp(0.5 * rng.normal());
  const int lesions = rng.poisson(0.5 + 18 * std::pow(a, 1.5) * load);
  for (int l = 0; l < lesions; ++l) {
    const bool periventricular = rng.uniform() < 0.6 || t.deep.empty();
    const auto& candidates = periventricular ? t.periventricular : t.deep;
    const int64_t centre = candidates[static_cast<std::size_t>(rng.uniform() * candidates.size())];
    double radius = std::min(9.0, std::exp(std::log(1.6 + 2.6 * a) + 0.35 * rng.normal()));
    if (periventricular) radius *= 1.3;
    out.lesion_count += add_lesion(t, lesion, centre, radius, rng);
  }
  for (int64_t v = 0; v < n; ++v) flair[v] += lesion[v] * (mu_lesion - flair[v]);

  // The transform to MNI on the 2 mm grid: rigid motion + smooth random field + ventricular expansion.
  const io::Volume& g2 = t.mni_2mm;
  const Int3& s2 = g2.shape;
  const std::array<double, 9> rotation = random_rotation(rng, 2.5);
  const Vec3 shift{2.5 * rng.normal(), 2.5 * rng.normal(), 2.5 * rng.normal()};
  struct Wave { double amplitude; Vec3 frequency, phase; };
  std::array<std::array<Wave, 3>, 3> waves;
  for (auto& component : waves)
    for (Wave& w : component) {
      w.amplitude = 1.2 * rng.normal();
      for (int ax = 0; ax < 3; ++ax) w.frequency[ax] = rng.uniform(0.3, 1.0) * 2 * kPi / 100, w.phase[ax] = rng.uniform(0, 2 * kPi);
    }
  const double expansion = 0.30 * a * std::exp(0.3 * rng.normal());
  const Vec3& cv = t.ventricle_centre;
  for (auto& c : out.to_mni) c = empty_like(g2);
  for (int64_t i = 0; i < s2[0]; ++i)
    for (int64_t j = 0; j < s2[1]; ++j)
      for (int64_t k = 0; k < s2[2]; ++k) {
        const Vec3 m = g2.geometry.world({double(i), double(j), double(k)});
        const Vec3 d{m[0] - cv[0], m[1] - cv[1], m[2] - cv[2]};
        const double bump = expansion * std::exp(-(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) / (2 * 18.0 * 18.0));
        const int64_t v = (i * s2[1] + j) * s2[2] + k;
        for (int c = 0; c < 3; ++c) {
          double u = shift[c] - d[c] + bump * d[c];
          for (int q = 0; q < 3; ++q) u += rotation[3 * c + q] * d[q];
          for (const Wave& w : waves[c])
            u += w.amplitude * std::cos(w.frequency[0] * m[0] + w.phase[0]) * std::cos(w.frequency[1] * m[1] + w.phase[1]) *
                 std::cos(w.frequency[2] * m[2] + w.phase[2]);
          // Stored in steps of 1/1024 mm so the field compresses; the simulation uses the stored values.
          out.to_mni[c].voxels[v] = static_cast<float>(std::round(u * 1024) / 1024);
        }
      }
  // Its inverse on the same lattice (subject point p ↦ MNI point p + w(p)) by fixed-point iteration
  // m = p − u(m), which converges because the field is smooth (|∇u| well below 1).
  std::array<std::vector<float>, 3> inverse;
  for (auto& c : inverse) c.assign(g2.size(), 0.f);
  for (int64_t v = 0; v < g2.size(); ++v) {
    const Vec3 p = g2.geometry.world({double(v / (s2[1] * s2[2])), double((v / s2[2]) % s2[1]), double(v % s2[2])});
    Vec3 m = p;
    for (int iteration = 0; iteration < 8; ++iteration) {
      const Vec3 x = index_of(g2.geometry, m);
      for (int c = 0; c < 3; ++c) m[c] = p[c] - sample(out.to_mni[c].voxels.data(), s2, x, true);
    }
    for (int c = 0; c < 3; ++c) inverse[c][v] = static_cast<float>(m[c] - p[c]);
  }

  // Subject space: pull the template through the inverse, then bias field and Rician noise.
  std::array<double, 9> bias_terms;
  for (double& b : bias_terms) b = 0.06 * rng.normal();
  const double noise = 0.025;
  out.flair = empty_like(t.grid);
  out.lesion = empty_like(t.grid);
  out.mask = empty_like(t.grid);
  const double voxel_ml = t.grid.geometry.spacing[0] * t.grid.geometry.spacing[1] * t.grid.geometry.spacing[2] / 1000;
  for (int64_t i = 0; i < shape[0]; ++i)
    for (int64_t j = 0; j < shape[1]; ++j)
      for (int64_t k = 0; k < shape[2]; ++k) {
        const Vec3 p = t.grid.geometry.world({double(i), double(j), double(k)});
        const Vec3 x2 = index_of(g2.geometry, p);
        Vec3 m;
        for (int c = 0; c < 3; ++c) m[c] = p[c] + sample(inverse[c].data(), s2, x2, true);
        const Vec3 x = index_of(t.grid.geometry, m);
        if (sample(brain.data(), shape, x) < 0.5f) continue;
        const int64_t v = (i * shape[1] + j) * shape[2] + k;
        out.mask.voxels[v] = 1;
        const float l = sample(lesion.data(), shape, x);
        out.lesion.voxels[v] = l;
        out.lesion_ml += l * voxel_ml;
        const Vec3 r{(p[0] - cv[0]) / 80, (p[1] - cv[1]) / 80, (p[2] - cv[2]) / 80};
        const double bias = std::exp(bias_terms[0] * r[0] + bias_terms[1] * r[1] + bias_terms[2] * r[2] +
                                     bias_terms[3] * r[0] * r[0] + bias_terms[4] * r[1] * r[1] + bias_terms[5] * r[2] * r[2] +
                                     bias_terms[6] * r[0] * r[1] + bias_terms[7] * r[1] * r[2] + bias_terms[8] * r[0] * r[2]);
        const double signal = sample(flair.data(), shape, x) * bias;
        const double re = signal + noise * rng.normal(), im = noise * rng.normal();
        out.flair.voxels[v] = static_cast<float>(1000 * std::sqrt(re * re + im * im));
      }
  return out;
}

void simulate_cohort(const SimulationTemplate& t, const std::string& directory, const SimulationOptions& o,
                     const std::function<void(int, int)>& progress) {
  if (o.subjects < 1) throw std::invalid_argument("simulate: the number of subjects must be at least 1");
  if (!(o.age_min <= o.age_max)) throw std::invalid_argument("simulate: the minimum age exceeds the maximum age");
  std::filesystem::create_directories(directory);
  io::Table table;
  table.source = directory + "/cohort.csv";
  table.columns = {"id", "flair", "age", "sex", "wml", "transform", "mask", "lesion_ml", "lesion_count"};
  table.rows.resize(o.subjects);
  parallel_for(o.subjects, o.jobs, [&](int i) {
    Rng draw(mix(o.seed, static_cast<uint64_t>(i)));
    const double age = std::round(draw.uniform(o.age_min, o.age_max) * 10) / 10;
    const std::string sex = draw.uniform() < 0.5 ? "F" : "M";
    const SimulatedSubject s = simulate_subject(t, age, draw.next());
    char id[32];
    std::snprintf(id, sizeof id, "sub-%03d", i + 1);
    const std::string dir = directory + "/" + id;
    std::filesystem::create_directories(dir);
    io::write_volume(dir + "/flair.nii.gz", s.flair, io::StoredAs::Int16);
    io::write_volume(dir + "/lesion.nii.gz", s.lesion);
    io::write_volume(dir + "/mask.nii.gz", s.mask, io::StoredAs::UInt8);
    io::write_displacement_field(dir + "/to_mni.nii.gz", s.to_mni);
    const std::string rel = std::string(id) + "/";
    table.rows[i] = {id, rel + "flair.nii.gz", io::csv_number(age), sex, rel + "lesion.nii.gz", rel + "to_mni.nii.gz",
                     rel + "mask.nii.gz", io::csv_number(std::round(s.lesion_ml * 1000) / 1000), std::to_string(s.lesion_count)};
  }, [&](int done) {
    if (progress) progress(done, o.subjects);
  });
  io::write_csv(table.source, table);
}

}  // namespace mlens::engine
