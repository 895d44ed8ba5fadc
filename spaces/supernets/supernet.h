// Supernet: every weight-sharing family (once-for-all `ofa`, nested
// `sorted`, stitchable `stitch`) behind one interface, so that training,
// checkpoints, evaluation, search and export treat them alike. A supernet is
// a torch::nn::Module whose configurations are a Space (a decision tree like
// any other); a configuration is named by its decisions in that space.
//   activate(decisions)  forward() then runs that sub-network, sharing weights;
//   script(decisions)    a standalone TorchScript module with its own copies
//                        of the weights (eval-mode batch norm);
//   space().known_metrics(decisions)  its analytic params and flops.
// Supernet files hold the family's spec (the space's source, one line that
// starts with the family name) and every weight and statistic.
#pragma once

#include <torch/script.h>
#include <torch/torch.h>

#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/status.h"
#include "spaces/space.h"

namespace sylva {

class Supernet {
 public:
  virtual ~Supernet() = default;
  virtual const std::string& family() const = 0;
  virtual torch::nn::Module& module() = 0;
  // Its configurations; the space's source is the spec.
  virtual const Space& space() const = 0;
  const std::string& spec_text() const { return space().source(); }

  virtual std::vector<int> largest() const = 0;
  virtual std::vector<int> smallest() const = 0;
  // A configuration drawn for training in `phase` of a schedule: "" any
  // configuration of the space, "nested" one of the family's nested
  // ladder (sorted), and the family's own phases (ofa: "kernel", "depth",
  // "expand" make those dimensions elastic, the others largest).
  virtual std::vector<int> sample(const std::string& phase, std::mt19937_64& rng) const = 0;
  // The phases a schedule may ask of this family besides "" (ofa
  // progressive needs kernel, depth, expand).
  virtual bool has_phase(const std::string& phase) const = 0;

  // Throws std::invalid_argument naming the problem for a bad configuration.
  virtual void activate(const std::vector<int>& decisions) = 0;
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;
  // Batch-norm recalibration of the active sub-network: the statistics
  // become the plain average over `batches` in training mode.
  virtual void recalibrate(const std::vector<torch::Tensor>& batches) = 0;
  // Channel importance sorting before widths shrink; true when channels
  // moved (ofa), false for families that keep their order (the default).
  virtual bool sort_channels() { return false; }
  // The configurations trained on their own before any sharing starts
  // (stitch: every anchor); by default the largest.
  virtual std::vector<std::vector<int>> anchors() const { return {largest()}; }
  // Called when the training schedule enters `phase`, with a fixed batch of
  // training images (stitch: "stitch" initialises the stitching layers by
  // least squares on the anchors' activations); by default nothing.
  virtual void begin_phase(const std::string& phase, const torch::Tensor& images) {
    (void)phase;
    (void)images;
  }
  // The configurations a full sweep evaluates (sorted: the nested ladder;
  // stitch: every configuration); empty when the family is searched instead.
  virtual std::vector<std::vector<int>> sweep() const { return {}; }
  // A new supernet with the same spec, weights and statistics.
  virtual std::unique_ptr<Supernet> copy() const = 0;
  virtual torch::jit::Module script(const std::vector<int>& decisions) const = 0;
};

// What every family's adapter shares: the family's network `Net` (a
// TORCH_MODULE holder with spec(), activate(Config), forward and
// script(Config)) and its configuration space, with the conversions between
// decisions and the family's Config, which throw std::invalid_argument for
// a bad configuration.
template <typename Net, typename FamilySpace, typename Config>
class FamilySupernet : public Supernet {
 public:
  FamilySupernet(std::string family, Net net)
      : family_(std::move(family)), net_(std::move(net)), space_(family_, net_->spec()) {}

  const std::string& family() const override { return family_; }
  torch::nn::Module& module() override { return *net_; }
  const Space& space() const override { return space_; }
  void activate(const std::vector<int>& d) override { net_->activate(config(d)); }
  torch::Tensor forward(const torch::Tensor& x) override { return net_->forward(x); }
  torch::jit::Module script(const std::vector<int>& d) const override {
    return net_->script(config(d));
  }

 protected:
  std::vector<int> decisions(const Config& c) const {
    auto d = space_.decisions(c);
    if (!d.is_ok()) throw std::invalid_argument(d.status().message());
    return d.value();
  }
  Config config(const std::vector<int>& d) const {
    auto c = space_.config(d);
    if (!c.is_ok()) throw std::invalid_argument(c.status().message());
    return c.value();
  }

  const std::string family_;
  Net net_;
  FamilySpace space_;
};

// A fresh supernet (random weights) of the family that `spec` names
// (spaces/supernets/family.h).
StatusOr<std::unique_ptr<Supernet>> make_supernet(const std::string& spec);
// Registers every built-in family and the `supernet:FILE` space scheme
// (register_all.cc); idempotent. Call before any look-up by name.
void register_all_supernet_families();
// Supernet files.
Status save_supernet(Supernet& net, const std::string& path);
StatusOr<std::unique_ptr<Supernet>> load_supernet(const std::string& path);
// Only the spec of a supernet file (cheap: no network is built).
StatusOr<std::string> read_supernet_spec(const std::string& path);

// Top-1 accuracy (%) of the active sub-network on images/labels, in
// evaluation mode, in batches of `batch`.
double accuracy(Supernet& net, const at::Tensor& images, const at::Tensor& labels,
                int64_t batch = 256);
// Activates `decisions` and recalibrates batch norm on `calibration`.
void activate_recalibrated(Supernet& net, const std::vector<int>& decisions,
                           const at::Tensor& calibration, int64_t batch = 256);
// activate_recalibrated, then accuracy.
double subnet_accuracy(Supernet& net, const std::vector<int>& decisions,
                       const at::Tensor& calibration, const at::Tensor& images,
                       const at::Tensor& labels, int64_t batch = 256);

// Copies every parameter and buffer of `from` into `to` (same layout).
void copy_weights(const torch::nn::Module& from, torch::nn::Module& to);

// Batch-norm recalibration (once-for-all's "BN calibration") of every
// batch norm in `net`, plain or elastic: statistics reset, then `forward`
// runs each batch in training mode without gradients, batch k weighing
// 1/(k+1), so the statistics are the plain average over the batches.
void recalibrate_batch_norm(torch::nn::Module& net,
                            const std::function<void(const torch::Tensor&)>& forward,
                            const std::vector<torch::Tensor>& batches);

// A standalone copy of a batch norm (weights and statistics).
torch::nn::BatchNorm2d copy_bn(const torch::nn::BatchNorm2d& bn);

class ScriptEmitter;
// Writes conv2d then eval-mode batch norm (then ReLU when `relu`) applied
// to variable `x`; returns the output variable. Padding: kernel / 2.
std::string emit_conv_bn(ScriptEmitter& e, const std::string& x, const torch::nn::Conv2d& conv,
                         const torch::nn::BatchNorm2d& bn, bool relu);
// Writes global average pooling of `x` then `classifier`; returns the logits.
std::string emit_pool_classifier(ScriptEmitter& e, const std::string& x,
                                 const torch::nn::Linear& classifier);

}  // namespace sylva
