#include "search/predictor.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace sylva::search {
namespace {

size_t widest(const std::vector<std::vector<double>>& x) {
  size_t d = 0;
  for (const auto& row : x) d = std::max(d, row.size());
  return d;
}

// Row `x` cut or padded with zeros to `d` values.
std::vector<double> fitted(const std::vector<double>& x, size_t d) {
  std::vector<double> out(x.begin(),
                          x.begin() + static_cast<std::ptrdiff_t>(std::min(d, x.size())));
  out.resize(d, 0.0);
  return out;
}

// Mean and standard deviation (1 when constant) of the targets.
std::pair<double, double> moments(const std::vector<double>& y) {
  const double mean = std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(y.size());
  double var = 0;
  for (double v : y) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / static_cast<double>(y.size()));
  return {mean, sd > 1e-12 ? sd : 1.0};
}

class Ridge : public Predictor {
 public:
  explicit Ridge(double lambda) : lambda_(lambda) {}

  void fit(const std::vector<std::vector<double>>& x, const std::vector<double>& y) override {
    d_ = widest(x);
    const size_t n = x.size();
    // Centred inputs and targets: the intercept is not penalised.
    mean_x_.assign(d_, 0.0);
    for (const auto& row : x) {
      const auto r = fitted(row, d_);
      for (size_t j = 0; j < d_; ++j) mean_x_[j] += r[j] / static_cast<double>(n);
    }
    mean_y_ = moments(y).first;
    // (X^T X + lambda I) w = X^T y, by Cholesky.
    std::vector<double> a(d_ * d_, 0.0), b(d_, 0.0);
    for (size_t i = 0; i < n; ++i) {
      auto r = fitted(x[i], d_);
      for (size_t j = 0; j < d_; ++j) r[j] -= mean_x_[j];
      for (size_t j = 0; j < d_; ++j) {
        b[j] += r[j] * (y[i] - mean_y_);
        for (size_t k = 0; k <= j; ++k) a[j * d_ + k] += r[j] * r[k];
      }
    }
    for (size_t j = 0; j < d_; ++j) a[j * d_ + j] += lambda_;
    for (size_t j = 0; j < d_; ++j) {
      for (size_t k = 0; k <= j; ++k) {
        double s = a[j * d_ + k];
        for (size_t m = 0; m < k; ++m) s -= a[j * d_ + m] * a[k * d_ + m];
        a[j * d_ + k] = j == k ? std::sqrt(std::max(s, 1e-12)) : s / a[k * d_ + k];
      }
    }
    w_ = b;
    for (size_t j = 0; j < d_; ++j) {  // L z = b
      for (size_t m = 0; m < j; ++m) w_[j] -= a[j * d_ + m] * w_[m];
      w_[j] /= a[j * d_ + j];
    }
    for (size_t j = d_; j-- > 0;) {  // L^T w = z
      for (size_t m = j + 1; m < d_; ++m) w_[j] -= a[m * d_ + j] * w_[m];
      w_[j] /= a[j * d_ + j];
    }
  }

  double predict(const std::vector<double>& x) const override {
    const auto r = fitted(x, d_);
    double out = mean_y_;
    for (size_t j = 0; j < d_; ++j) out += (r[j] - mean_x_[j]) * w_[j];
    return out;
  }

 private:
  double lambda_;
  size_t d_ = 0;
  std::vector<double> mean_x_, w_;
  double mean_y_ = 0;
};

class Mlp : public Predictor {
 public:
  explicit Mlp(uint64_t seed) : seed_(seed) {}

  void fit(const std::vector<std::vector<double>>& x, const std::vector<double>& y) override {
    d_ = widest(x);
    std::tie(mean_y_, sd_y_) = moments(y);
    std::mt19937_64 rng(seed_);
    std::normal_distribution<double> normal(0.0, 1.0);
    // Parameters: w1 [h, d], b1 [h], w2 [h], b2.
    const size_t np = kHidden * d_ + 2 * kHidden + 1;
    p_.assign(np, 0.0);
    for (size_t i = 0; i < kHidden * d_; ++i)
      p_[i] = normal(rng) / std::sqrt(static_cast<double>(d_));
    for (size_t i = 0; i < kHidden; ++i)
      p_[kHidden * d_ + kHidden + i] = normal(rng) / std::sqrt(kHidden);
    std::vector<std::vector<double>> rows;
    for (const auto& row : x) rows.push_back(fitted(row, d_));
    std::vector<double> m(np, 0.0), v(np, 0.0), g(np), h(kHidden);
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, decay = 1e-4;
    for (int step = 1; step <= kSteps; ++step) {
      std::fill(g.begin(), g.end(), 0.0);
      for (size_t i = 0; i < rows.size(); ++i) {
        const double target = (y[i] - mean_y_) / sd_y_;
        const double err = forward(rows[i], h) - target;
        const double scale = 2 * err / static_cast<double>(rows.size());
        double* w2 = &g[kHidden * d_ + kHidden];
        for (size_t k = 0; k < kHidden; ++k) {
          w2[k] += scale * h[k];
          const double dh = scale * p_[kHidden * d_ + kHidden + k] * (1 - h[k] * h[k]);
          g[kHidden * d_ + k] += dh;
          for (size_t j = 0; j < d_; ++j) g[k * d_ + j] += dh * rows[i][j];
        }
        g[np - 1] += scale;
      }
      for (size_t i = 0; i < np; ++i) {
        g[i] += decay * p_[i];
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        const double mh = m[i] / (1 - std::pow(b1, step)), vh = v[i] / (1 - std::pow(b2, step));
        p_[i] -= lr * mh / (std::sqrt(vh) + 1e-8);
      }
    }
  }

  double predict(const std::vector<double>& x) const override {
    std::vector<double> h(kHidden);
    return mean_y_ + sd_y_ * forward(fitted(x, d_), h);
  }

 private:
  static constexpr size_t kHidden = 32;
  static constexpr int kSteps = 400;

  // The standardised prediction; `h` receives the hidden activations.
  double forward(const std::vector<double>& x, std::vector<double>& h) const {
    double out = p_.back();
    for (size_t k = 0; k < kHidden; ++k) {
      double a = p_[kHidden * d_ + k];
      for (size_t j = 0; j < d_; ++j) a += p_[k * d_ + j] * x[j];
      h[k] = std::tanh(a);
      out += p_[kHidden * d_ + kHidden + k] * h[k];
    }
    return out;
  }

  uint64_t seed_;
  size_t d_ = 0;
  std::vector<double> p_;
  double mean_y_ = 0, sd_y_ = 1;
};

}  // namespace

StatusOr<std::unique_ptr<Predictor>> make_predictor(const std::string& kind, uint64_t seed) {
  if (kind == "ridge") return std::unique_ptr<Predictor>(std::make_unique<Ridge>(1.0));
  if (kind == "mlp") return std::unique_ptr<Predictor>(std::make_unique<Mlp>(seed));
  return Status::invalid_argument(fmt::format("--predictor must be ridge or mlp, got '{}'", kind));
}

}  // namespace sylva::search
