#include "evaluators/train/train_evaluator.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "base/random.h"
#include "base/strings.h"
#include "evaluators/data/augment.h"
#include "evaluators/data/dataset.h"
#include "evaluators/data/loader.h"
#include "evaluators/registry.h"
#include "evaluators/train/check_network.h"
#include "evaluators/train/compute_threads.h"
#include "evaluators/train/device.h"
#include "evaluators/train/model_tools.h"
#include "evaluators/train/train_hparams.h"
#include "spaces/nets/network.h"

namespace sylva::evaluators {
namespace {

// Seeds of the fixed validation and test subsets: constants, so that every
// trial of every run sees the same images.
constexpr uint64_t kSplitSeed = 0x5e1a5b11d5eedULL;
constexpr uint64_t kTestSeed = 0x7e575ab5e7ULL;
// Images per forward pass when evaluating.
constexpr int64_t kEvalChunk = 1000;
constexpr double kPi = 3.14159265358979323846;

using Clock = std::chrono::steady_clock;

// Rows [begin, end) of `perm` taken from `t`, as a new contiguous tensor.
at::Tensor take(const at::Tensor& t, const std::vector<int64_t>& perm, int64_t begin, int64_t end) {
  auto index =
      torch::tensor(std::vector<int64_t>(perm.begin() + begin, perm.begin() + end), torch::kLong);
  return t.index_select(0, index);
}

// Mini-batches per epoch over n images: a last partial batch is dropped,
// unless it is the only one.
int64_t batch_size_for(int64_t n, int64_t batch_size) { return std::min<int64_t>(batch_size, n); }
int64_t steps_per_epoch_for(int64_t n, int64_t batch_size) {
  return n / batch_size_for(n, batch_size);
}

// Median wall time of an eval-mode forward of one input, in milliseconds, on
// the calling thread's intra-op threads (the job's), after warm-up runs.
double latency_ms(NetworkImpl& net, const InputShape& in, const c10::Device& device,
                  bool channels_last) {
  torch::NoGradGuard no_grad;
  at::Tensor x = torch::zeros({1, in.channels, in.height, in.width}, torch::Device(device));
  if (channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
  return median_latency_ms(
      [&] {
        net.forward(x);
        synchronize(device);
      },
      3, 11);
}

// Weights of four dimensions (convolutions) in the channels-last layout.
void to_channels_last(torch::nn::Module& net) {
  torch::NoGradGuard no_grad;
  for (auto& p : net.parameters()) {
    if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
  }
}

Status validate(const TrainOptions& o) {
  if (o.epochs < 1)
    return Status::invalid_argument(fmt::format("--epochs must be >= 1, got {}", o.epochs));
  if (o.batch_size < 1) {
    return Status::invalid_argument(fmt::format("--batch-size must be >= 1, got {}", o.batch_size));
  }
  if (o.train_samples < 0) {
    return Status::invalid_argument(
        fmt::format("--train-samples must be >= 0, got {}", o.train_samples));
  }
  if (o.val_samples < 1) {
    return Status::invalid_argument(
        fmt::format("--val-samples must be >= 1, got {}", o.val_samples));
  }
  if (o.test_samples < 0) {
    return Status::invalid_argument(
        fmt::format("--test-samples must be >= 0, got {}", o.test_samples));
  }
  if (!(o.lr > 0) || !std::isfinite(o.lr)) {
    return Status::invalid_argument(
        fmt::format("--lr must be a positive finite number, got {}", o.lr));
  }
  if (o.lr > kMaxLr) {
    return Status::invalid_argument(fmt::format("--lr must be <= {:g}, got {:g}", kMaxLr, o.lr));
  }
  if (o.optimizer != "sgd" && o.optimizer != "adamw") {
    return Status::invalid_argument(
        fmt::format("--optimizer must be sgd or adamw, got '{}'", o.optimizer));
  }
  if (!std::isfinite(o.weight_decay)) {
    return Status::invalid_argument(
        fmt::format("--weight-decay must be finite, got {}", o.weight_decay));
  }
  if (!(o.weight_decay == -1 || (o.weight_decay >= 0 && o.weight_decay <= kMaxWeightDecay))) {
    return Status::invalid_argument(
        fmt::format("--weight-decay must be in [0, {:g}] or -1 (the optimizer's default), got {:g}",
                    kMaxWeightDecay, o.weight_decay));
  }
  if (!(o.reject_below >= 0 && o.reject_below <= 100)) {
    return Status::invalid_argument(
        fmt::format("--reject-below must be a percentage in [0, 100], got {}", o.reject_below));
  }
  if (o.reject_after < 0) {
    return Status::invalid_argument(
        fmt::format("--reject-after must be >= 0, got {}", o.reject_after));
  }
  if ((o.reject_below > 0) != (o.reject_after > 0)) {
    return Status::invalid_argument(
        "--reject-below ACC and --reject-after STEPS go together (early rejection needs both)");
  }
  return Status::ok();
}

class TrainEvaluator : public Evaluator {
 public:
  TrainEvaluator(const TrainOptions& options, at::Tensor train_x, at::Tensor train_y,
                 at::Tensor val_x, at::Tensor val_y, at::Tensor test_x, at::Tensor test_y,
                 InputShape input, std::vector<double> mean, std::vector<double> stddev,
                 AugmentSpec augment, DevicePlan device, std::string data_summary)
      : options_(options),
        train_x_(std::move(train_x)),
        train_y_(std::move(train_y)),
        val_x_(std::move(val_x)),
        val_y_(std::move(val_y)),
        test_x_(std::move(test_x)),
        test_y_(std::move(test_y)),
        input_(input),
        mean_(std::move(mean)),
        stddev_(std::move(stddev)),
        affine_(pixel_affine(mean_, stddev_)),
        augment_(std::move(augment)),
        device_(std::move(device)),
        data_summary_(std::move(data_summary)) {}

  EvalResult evaluate(const Job& job, Reporter& reporter) override;
  Status check_hparams(const std::vector<HparamDecl>& hparams) const override {
    return check_train_hparams(hparams);
  }
  std::vector<std::string> metrics() const override {
    return {"val_acc", "test_acc",      "train_loss", "params",
            "flops",   "train_seconds", "latency_ms", "data_wait_share"};
  }
  std::string slot_device(int slot) const override { return device_.slot_name(slot); }
  std::string data_summary() const override { return data_summary_; }
  // The network builds and a forward pass of one blank image runs.
  Status check_architecture(const Space& space, const Architecture& arch) const override {
    return check_network_runs(space, arch, input_);
  }
  SpaceTarget input() const override {
    SpaceTarget t;
    t.channels = input_.channels;
    t.height = input_.height;
    t.width = input_.width;
    t.classes = input_.classes;
    return t;
  }

 private:
  static std::unique_ptr<torch::optim::Optimizer> make_optimizer(NetworkImpl& net,
                                                                 const TrainSettings& s);
  // Images [N, ...] as the network on `device` takes them.
  at::Tensor prepare(const at::Tensor& x, const c10::Device& device) const;

  // Constant after construction; tensors are only read, by any thread.
  const TrainOptions options_;
  const at::Tensor train_x_, train_y_;  // uint8 images or float tables
  const at::Tensor val_x_, val_y_;
  const at::Tensor test_x_, test_y_;
  const InputShape input_;
  const std::vector<double> mean_, stddev_;  // of the training split, per channel
  const PixelAffine affine_;                 // bytes to standardised values
  const AugmentSpec augment_;
  const DevicePlan device_;
  const std::string data_summary_;
};

std::unique_ptr<torch::optim::Optimizer> TrainEvaluator::make_optimizer(NetworkImpl& net,
                                                                        const TrainSettings& s) {
  if (s.optimizer == "adamw") {
    const double wd = s.weight_decay >= 0 ? s.weight_decay : 0.05;
    return std::make_unique<torch::optim::AdamW>(net.parameters(),
                                                 torch::optim::AdamWOptions(s.lr).weight_decay(wd));
  }
  const double wd = s.weight_decay >= 0 ? s.weight_decay : 5e-4;
  // Nesterov needs a momentum.
  return std::make_unique<torch::optim::SGD>(net.parameters(), torch::optim::SGDOptions(s.lr)
                                                                   .momentum(s.momentum)
                                                                   .nesterov(s.momentum > 0)
                                                                   .weight_decay(wd));
}

at::Tensor TrainEvaluator::prepare(const at::Tensor& x, const c10::Device& device) const {
  // Bytes travel to the device, four times fewer than floats.
  at::Tensor out =
      x.scalar_type() == at::kByte ? standardise_bytes(x.to(device), affine_) : x.to(device);
  if (device_.channels_last) out = out.contiguous(at::MemoryFormat::ChannelsLast);
  return out;
}

namespace {

// Accuracy in percent, in chunks, without gradients; `check` runs before
// each chunk (the trial's timeout); `prepare` turns a chunk into the
// network's input.
double chunked_accuracy(NetworkImpl& net, const at::Tensor& x, const at::Tensor& y,
                        const std::function<at::Tensor(const at::Tensor&)>& prepare,
                        const std::function<void()>& check) {
  torch::NoGradGuard no_grad;
  net.eval();
  const int64_t n = x.size(0);
  int64_t correct = 0;
  for (int64_t b = 0; b < n; b += kEvalChunk) {
    check();
    const int64_t e = std::min(n, b + kEvalChunk);
    auto logits = net.forward(prepare(x.slice(0, b, e)));
    correct += logits.argmax(1).cpu().eq(y.slice(0, b, e)).sum().item<int64_t>();
  }
  return n == 0 ? 0.0 : 100.0 * static_cast<double>(correct) / static_cast<double>(n);
}

// A candidate stopped by early rejection: PRUNED with what it had.
EvalResult rejected(double acc, int64_t steps, double below, const Cost& cost, double seconds) {
  EvalResult result;
  result.state = TrialState::kPruned;
  result.message = fmt::format("rejected: val_acc {:.2f} after {} steps is below --reject-below {}",
                               acc, steps, below);
  result.metrics = {{"val_acc", acc},
                    {"params", static_cast<double>(cost.params)},
                    {"flops", static_cast<double>(cost.flops)},
                    {"train_seconds", seconds},
                    {"rejected_at_step", static_cast<double>(steps)}};
  return result;
}

}  // namespace

EvalResult TrainEvaluator::evaluate(const Job& job, Reporter& reporter) {
  const auto start = Clock::now();
  auto check_timeout = [&] {
    if (job.timeout_seconds <= 0) return;
    std::chrono::duration<double> elapsed = Clock::now() - start;
    if (elapsed.count() > job.timeout_seconds) {
      throw TimeoutError(
          fmt::format("trial exceeded --trial-timeout of {} s", job.timeout_seconds));
    }
  };
  if (job.space == nullptr) throw std::invalid_argument("train evaluator: job has no space");
  EvalResult result;
  // The evaluator's options with the trial's hyperparameters applied.
  auto settings_or = train_settings(options_, job.hparams);
  if (!settings_or.is_ok()) {
    result.state = TrialState::kFail;
    result.message = settings_or.status().message();
    return result;
  }
  const TrainSettings settings = std::move(settings_or).value();

  set_compute_threads(job.threads);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(job.seed);
  const c10::Device device = device_.device_for_slot(job.slot);

  auto built = build_network(job.space->build_spec(), job.arch, input_);
  if (!built.is_ok()) {
    result.state = TrialState::kFail;
    result.message = built.status().message();
    return result;
  }
  std::shared_ptr<NetworkImpl> net = built.value();
  init_weights(*net, generator);
  auto measured = measure_cost(*net, job.arch.key);
  if (!measured.is_ok()) {
    result.state = TrialState::kFail;
    result.message = measured.status().message();
    return result;
  }
  const Cost cost = measured.value();
  // Initialised on the CPU, trained on the device.
  if (device.is_cuda()) net->to(device);
  if (device_.channels_last) to_channels_last(*net);
  auto optimizer = make_optimizer(*net, settings);

  auto prepare = [&](const at::Tensor& x) { return this->prepare(x, device); };
  auto accuracy = [&](const at::Tensor& x, const at::Tensor& y) {
    AutocastGuard autocast(device_.bf16, device);
    return chunked_accuracy(*net, x, y, prepare, check_timeout);
  };

  const int64_t n = train_x_.size(0);
  const int64_t batch = batch_size_for(n, settings.batch_size);
  const int64_t steps_per_epoch = steps_per_epoch_for(n, settings.batch_size);
  // Successive halving sets the budget per job.
  const int64_t epochs = job.epochs > 0 ? job.epochs : settings.epochs;
  const auto loss_options =
      torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(settings.label_smoothing);
  const int64_t total_steps = steps_per_epoch * epochs;
  int64_t step = 0;
  double train_loss = 0;
  double val_acc = 0;

  LoaderOptions loading;
  loading.batch_size = batch;
  loading.steps = steps_per_epoch;
  loading.epochs = epochs;
  loading.augment = augment_;
  loading.seed = job.seed;
  loading.pin = device.is_cuda();
  loading.mean = mean_;
  loading.stddev = stddev_;
  BatchLoader loader(train_x_, train_y_, loading);
  const auto loop_start = Clock::now();
  // The share of the loop spent waiting for data.
  auto wait_share = [&] {
    const std::chrono::duration<double> loop = Clock::now() - loop_start;
    return loop.count() > 0 ? loader.wait_seconds() / loop.count() : 0.0;
  };
  // Stopped by a pruner after `epoch` epochs: the values so far.
  auto pruned = [&](int epoch) {
    const std::chrono::duration<double> seconds = Clock::now() - start;
    result.state = TrialState::kPruned;
    result.message = reporter.stop_reason();
    result.metrics = {{"val_acc", val_acc},
                      {"train_loss", train_loss},
                      {"params", static_cast<double>(cost.params)},
                      {"flops", static_cast<double>(cost.flops)},
                      {"train_seconds", seconds.count()},
                      {"epochs", static_cast<double>(epoch)}};
    return result;
  };
  Batch b;
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    net->train();
    // The loss summed on the device, read once per epoch: reading it every
    // step would wait for the device each time.
    at::Tensor loss_sum = torch::zeros({}, torch::dtype(torch::kFloat64).device(device));
    for (int64_t s = 0; s < steps_per_epoch; ++s, ++step) {
      check_timeout();
      // A pruner's verdict on the last epoch's values (--prune median)
      // arrives while the next one trains.
      if (epoch > 1 && reporter.should_stop()) return pruned(epoch - 1);
      const double lr =
          0.5 * settings.lr * (1 + std::cos(kPi * static_cast<double>(step) / total_steps));
      for (auto& group : optimizer->param_groups()) group.options().set_lr(lr);

      if (!loader.next(b)) throw std::logic_error("train evaluator: the loader ran out of batches");
      at::Tensor x = b.x.to(device, /*non_blocking=*/true);
      if (device_.channels_last) x = x.contiguous(at::MemoryFormat::ChannelsLast);
      at::Tensor y = b.y.to(device, /*non_blocking=*/true);
      optimizer->zero_grad();
      at::Tensor loss;
      {
        AutocastGuard autocast(device_.bf16, device);
        loss = torch::nn::functional::cross_entropy(net->forward(x), y, loss_options);
      }
      // A non-finite loss is caught at once on the CPU, at the end of the
      // epoch on a GPU (before its weights are believed).
      if (!device.is_cuda()) {
        const double value = loss.item<double>();
        if (!std::isfinite(value)) {
          throw std::runtime_error(fmt::format("loss is {} at epoch {} step {}",
                                               std::isnan(value) ? "NaN" : "infinite", epoch,
                                               s + 1));
        }
      }
      loss.backward();
      optimizer->step();
      loss_sum += loss.detach().to(torch::kFloat64);
      if (step + 1 == options_.reject_after) {
        const int64_t images = std::min<int64_t>(kRejectionImages, val_x_.size(0));
        const double acc = accuracy(val_x_.slice(0, 0, images), val_y_.slice(0, 0, images));
        reporter.intermediate(static_cast<int>(step + 1), "rejection_acc", acc);
        net->train();
        if (acc < options_.reject_below) {
          const std::chrono::duration<double> seconds = Clock::now() - start;
          return rejected(acc, step + 1, options_.reject_below, cost, seconds.count());
        }
      }
    }
    train_loss = loss_sum.item<double>() / static_cast<double>(steps_per_epoch);
    if (!std::isfinite(train_loss)) {
      throw std::runtime_error(fmt::format("loss is {} in epoch {}",
                                           std::isnan(train_loss) ? "NaN" : "infinite", epoch));
    }
    val_acc = accuracy(val_x_, val_y_);
    reporter.intermediate(epoch, "train_loss", train_loss);
    reporter.intermediate(epoch, "val_acc", val_acc);
    if (epoch < epochs && reporter.should_stop()) return pruned(epoch);
  }
  const double data_wait = wait_share();
  const double test_acc = accuracy(test_x_, test_y_);
  synchronize(device);
  const std::chrono::duration<double> seconds = Clock::now() - start;

  net->eval();
  result.metrics = {{"val_acc", val_acc},
                    {"test_acc", test_acc},
                    {"train_loss", train_loss},
                    {"params", static_cast<double>(cost.params)},
                    {"flops", static_cast<double>(cost.flops)},
                    {"train_seconds", seconds.count()},
                    {"latency_ms", latency_ms(*net, input_, device, device_.channels_last)},
                    {"data_wait_share", data_wait}};
  // Weights are kept in the contiguous layout, on the CPU: export and
  // inheritance read them anywhere.
  if (device.is_cuda()) net->to(torch::kCPU);
  if (device_.channels_last) {
    torch::NoGradGuard no_grad;
    for (auto& p : net->parameters()) p.set_data(p.data().contiguous());
  }
  result.weights = pack_weights(
      ModelShape{input_.channels, input_.height, input_.width, input_.classes}, save_weights(*net));
  return result;
}

}  // namespace

StatusOr<std::unique_ptr<Evaluator>> make_train_evaluator(const TrainOptions& options,
                                                          std::shared_ptr<const Dataset> data) {
  Status status = validate(options);
  if (!status.is_ok()) return status;
  if (!data) throw std::invalid_argument("make_train_evaluator: no dataset");
  SYLVA_ASSIGN(device, plan_device(options.device, options.precision, options.channels_last));
  SYLVA_ASSIGN(augment_words, parse_augment(options.augment));
  if (augment_words.any() && !data->is_images()) {
    return Status::invalid_argument(fmt::format("--augment {} works on images; {} is a {} table",
                                                options.augment, data->path, data->format));
  }
  SYLVA_ASSIGN(augment, fit_augment(augment_words, data->height(), data->width(), data->mean));

  const int64_t available = data->train_images.size(0);
  if (options.val_samples >= available) {
    return Status::invalid_argument(
        fmt::format("--val-samples must be < {} (the training images), got {}", available,
                    options.val_samples));
  }
  const int64_t left = available - options.val_samples;
  if (options.train_samples > left) {
    return Status::invalid_argument(fmt::format(
        "--train-samples must be <= {} (training images left after --val-samples {}), got {}", left,
        options.val_samples, options.train_samples));
  }
  // Training: the head of a fixed permutation; validation: its tail.
  const int64_t train_count = options.train_samples == 0 ? left : options.train_samples;
  const int64_t total_steps = steps_per_epoch_for(train_count, options.batch_size) * options.epochs;
  if (options.reject_after > total_steps) {
    return Status::invalid_argument(fmt::format(
        "--reject-after {} is past the last training step ({} = {} epoch(s) of {} images in "
        "batches of {})",
        options.reject_after, total_steps, options.epochs, train_count, options.batch_size));
  }
  const int64_t tests = data->test_images.size(0);
  if (options.test_samples > tests) {
    return Status::invalid_argument(fmt::format(
        "--test-samples must be <= {} (the test images), got {}", tests, options.test_samples));
  }

  const std::vector<int64_t> perm = fixed_permutation(available, kSplitSeed);
  at::Tensor train_x = take(data->train_images, perm, 0, train_count);
  at::Tensor train_y = take(data->train_labels, perm, 0, train_count);
  at::Tensor val_x = take(data->train_images, perm, left, available);
  at::Tensor val_y = take(data->train_labels, perm, left, available);

  at::Tensor test_x = data->test_images;
  at::Tensor test_y = data->test_labels;
  if (options.test_samples > 0 && options.test_samples < tests) {
    const std::vector<int64_t> test_perm = fixed_permutation(tests, kTestSeed);
    test_x = take(test_x, test_perm, 0, options.test_samples);
    test_y = take(test_y, test_perm, 0, options.test_samples);
  }

  InputShape input;
  input.channels = data->channels();
  input.height = data->height();
  input.width = data->width();
  input.classes = data->classes;
  return std::unique_ptr<Evaluator>(new TrainEvaluator(
      options, std::move(train_x), std::move(train_y), std::move(val_x), std::move(val_y),
      std::move(test_x), std::move(test_y), input, data->mean, data->stddev, std::move(augment),
      std::move(device), data->summary_json()));
}

DataOptions data_options(const TrainOptions& options) {
  DataOptions d;
  d.path = options.dataset;
  d.format = options.dataset_format;
  d.label = options.label;
  d.image_size = options.image_size;
  d.target = options.target;
  return d;
}

StatusOr<std::unique_ptr<Evaluator>> make_train_evaluator(const TrainOptions& options) {
  Status status = validate(options);
  if (!status.is_ok()) return status;
  // The device first: a run that cannot start says so before the data loads.
  SYLVA_RETURN_IF_ERROR(
      plan_device(options.device, options.precision, options.channels_last).status());
  SYLVA_RETURN_IF_ERROR(parse_augment(options.augment).status());
  auto data = load_dataset(data_options(options));
  if (!data.is_ok()) return data.status();
  return make_train_evaluator(options, std::make_shared<const Dataset>(std::move(data).value()));
}

namespace {

// The training options, with TrainOptions' defaults; `supernet train` and
// the supernet evaluator read some of them too.
std::vector<OptionDef> train_options() {
  const TrainOptions d;
  auto stored = [](std::string name, std::string help, std::string value) {
    return OptionDef{std::move(name), std::move(help), std::move(value), OptionDef::kFilled, true};
  };
  return {
      stored("dataset",
             "the data: a folder of MNIST-format IDX files, of CIFAR-10/100 .bin files, of class "
             "folders of PNG/JPEG images, or a CSV file; default Fashion-MNIST",
             ""),
      stored("dataset-format", "auto (by content) | idx | cifar10 | cifar100 | folder | csv",
             d.dataset_format),
      stored("label", "CIFAR-100 labels: fine (100 classes) | coarse (20)", d.label),
      stored("image-size", "image folders: resize every image to N x N; 0: keep (all equal)",
             std::to_string(d.image_size)),
      stored("target", "CSV: the label column; default the last", d.target),
      stored("augment",
             "training augmentation: crop[=PAD] (4), flip, cutout[=SIZE] (half the side), "
             "comma-separated, or none",
             d.augment),
      stored("device", "cpu | cuda (a GPU per worker slot) | cuda:N | auto", d.device),
      stored("precision", "fp32 | bf16 (autocast)", d.precision),
      stored("channels-last", "NHWC weights and inputs: auto (on for cuda) | on | off",
             d.channels_last),
      stored("epochs", "training epochs per trial", std::to_string(d.epochs)),
      stored("train-samples", "training images per trial; 0: all", std::to_string(d.train_samples)),
      stored("val-samples", "images held out of training for val_acc",
             std::to_string(d.val_samples)),
      stored("test-samples", "test images for test_acc; 0: all", std::to_string(d.test_samples)),
      stored("batch-size", "mini-batch size", std::to_string(d.batch_size)),
      stored("lr", "peak learning rate (cosine schedule)", fmt::format("{:g}", d.lr)),
      stored("optimizer", "sgd (momentum 0.9) | adamw", d.optimizer),
      stored("weight-decay", "weight decay; -1: the optimizer's default (sgd 5e-4, adamw 0.05)",
             fmt::format("{:g}", d.weight_decay)),
      stored("reject-below",
             "early rejection: stop a candidate whose val_acc (%) is below this after "
             "--reject-after steps; it is PRUNED",
             fmt::format("{:g}", d.reject_below)),
      stored("reject-after", "early rejection: training steps before the check",
             std::to_string(d.reject_after)),
  };
}

}  // namespace

void register_train_evaluator() {
  register_evaluator({"train",
                      "trains each candidate with LibTorch on a dataset (images or a CSV table), "
                      "on the CPU or a GPU",
                      /*trains=*/true,
                      nullptr,
                      [](const OptionReader& c) -> StatusOr<std::unique_ptr<Evaluator>> {
                        TrainOptions t;
                        SYLVA_ASSIGN(data, read_data_options(c));
                        t.dataset = data.path;
                        t.dataset_format = data.format;
                        t.label = data.label;
                        t.image_size = data.image_size;
                        t.target = data.target;
                        t.augment = c.text("augment");
                        t.device = c.text("device");
                        t.precision = c.text("precision");
                        t.channels_last = c.text("channels-last");
                        SYLVA_ASSIGN(epochs, c.integer("epochs", 1));
                        SYLVA_ASSIGN(train_samples, c.integer("train-samples", 0));
                        SYLVA_ASSIGN(val_samples, c.integer("val-samples", 1));
                        SYLVA_ASSIGN(test_samples, c.integer("test-samples", 0));
                        SYLVA_ASSIGN(batch, c.integer("batch-size", 1));
                        SYLVA_ASSIGN(lr, c.real("lr", 0));
                        t.epochs = static_cast<int>(epochs);
                        t.train_samples = train_samples;
                        t.val_samples = val_samples;
                        t.test_samples = test_samples;
                        t.batch_size = static_cast<int>(batch);
                        t.lr = lr;
                        t.optimizer = c.text("optimizer");
                        SYLVA_ASSIGN(weight_decay, c.real("weight-decay", -1));
                        t.weight_decay = weight_decay;
                        SYLVA_ASSIGN(reject_below, c.real("reject-below", 0));
                        SYLVA_ASSIGN(reject_after, c.integer("reject-after", 0));
                        t.reject_below = reject_below;
                        t.reject_after = reject_after;
                        return make_train_evaluator(t);
                      },
                      train_options(),
                      {},
                      // --proxy-filter's networks (evaluators/proxy/).
                      {"proxy-batches", "proxy-batch-size"}});
}

}  // namespace sylva::evaluators
