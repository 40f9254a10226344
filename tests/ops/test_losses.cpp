// tests/ops/test_losses.cpp -- cross_entropy, nll_loss, mse_loss, binary_cross_entropy_with_logits:
// values and gradients vs PyTorch for every option combination and reduction
// (tools/gen_ref_losses.py), gradcheck in float64, non-contiguous logits, errors.
#include "reference/losses.h"
#include "test_util.h"

using namespace atto;
namespace R = ref::losses;

namespace {

struct ClassCase {
  const char* name;
  const RefTensor *logits, *target;
  CrossEntropyOptions o;   // reduction filled in per reduction
  bool nll;                // nll_loss references exist (no label smoothing)
  const RefTensor *ce[3], *ce_grad[3], *nll_ref[3], *nll_grad[3];
};

Tensor weight() { return R::ce_weight.tensor(); }

// The same variants as gen_ref_losses.py, in the order none, mean, sum.
std::vector<ClassCase> class_cases() {
  return {
      {"plain", &R::ce_logits, &R::ce_target, {}, true,
       {&R::ce_plain_none, &R::ce_plain_mean, &R::ce_plain_sum},
       {&R::ce_plain_none_grad, &R::ce_plain_mean_grad, &R::ce_plain_sum_grad},
       {&R::nll_plain_none, &R::nll_plain_mean, &R::nll_plain_sum},
       {&R::nll_plain_none_grad, &R::nll_plain_mean_grad, &R::nll_plain_sum_grad}},
      {"weight", &R::ce_logits, &R::ce_target, {.weight = weight()}, true,
       {&R::ce_weight_none, &R::ce_weight_mean, &R::ce_weight_sum},
       {&R::ce_weight_none_grad, &R::ce_weight_mean_grad, &R::ce_weight_sum_grad},
       {&R::nll_weight_none, &R::nll_weight_mean, &R::nll_weight_sum},
       {&R::nll_weight_none_grad, &R::nll_weight_mean_grad, &R::nll_weight_sum_grad}},
      {"ignore", &R::ce_logits, &R::ce_target_ign, {}, true,
       {&R::ce_ignore_none, &R::ce_ignore_mean, &R::ce_ignore_sum},
       {&R::ce_ignore_none_grad, &R::ce_ignore_mean_grad, &R::ce_ignore_sum_grad},
       {&R::nll_ignore_none, &R::nll_ignore_mean, &R::nll_ignore_sum},
       {&R::nll_ignore_none_grad, &R::nll_ignore_mean_grad, &R::nll_ignore_sum_grad}},
      {"ignore1", &R::ce_logits, &R::ce_target, {.ignore_index = 1}, true,
       {&R::ce_ignore1_none, &R::ce_ignore1_mean, &R::ce_ignore1_sum},
       {&R::ce_ignore1_none_grad, &R::ce_ignore1_mean_grad, &R::ce_ignore1_sum_grad},
       {&R::nll_ignore1_none, &R::nll_ignore1_mean, &R::nll_ignore1_sum},
       {&R::nll_ignore1_none_grad, &R::nll_ignore1_mean_grad, &R::nll_ignore1_sum_grad}},
      {"smooth", &R::ce_logits, &R::ce_target, {.label_smoothing = 0.1}, false,
       {&R::ce_smooth_none, &R::ce_smooth_mean, &R::ce_smooth_sum},
       {&R::ce_smooth_none_grad, &R::ce_smooth_mean_grad, &R::ce_smooth_sum_grad}, {}, {}},
      {"smooth_weight_ignore", &R::ce_logits, &R::ce_target_ign, {.weight = weight(), .label_smoothing = 0.1}, false,
       {&R::ce_smooth_weight_ignore_none, &R::ce_smooth_weight_ignore_mean, &R::ce_smooth_weight_ignore_sum},
       {&R::ce_smooth_weight_ignore_none_grad, &R::ce_smooth_weight_ignore_mean_grad,
        &R::ce_smooth_weight_ignore_sum_grad}, {}, {}},
      {"nd", &R::ce_logits_nd, &R::ce_target_nd, {}, true,
       {&R::ce_nd_none, &R::ce_nd_mean, &R::ce_nd_sum},
       {&R::ce_nd_none_grad, &R::ce_nd_mean_grad, &R::ce_nd_sum_grad},
       {&R::nll_nd_none, &R::nll_nd_mean, &R::nll_nd_sum},
       {&R::nll_nd_none_grad, &R::nll_nd_mean_grad, &R::nll_nd_sum_grad}},
      {"nd_all", &R::ce_logits_nd, &R::ce_target_nd, {.weight = weight().narrow(0, 0, 4), .label_smoothing = 0.1},
       false, {&R::ce_nd_all_none, &R::ce_nd_all_mean, &R::ce_nd_all_sum},
       {&R::ce_nd_all_none_grad, &R::ce_nd_all_mean_grad, &R::ce_nd_all_sum_grad}, {}, {}},
      {"vec", &R::ce_logits_vec, &R::ce_target_vec, {}, true,
       {&R::ce_vec_none, &R::ce_vec_mean, &R::ce_vec_sum},
       {&R::ce_vec_none_grad, &R::ce_vec_mean_grad, &R::ce_vec_sum_grad},
       {&R::nll_vec_none, &R::nll_vec_mean, &R::nll_vec_sum},
       {&R::nll_vec_none_grad, &R::nll_vec_mean_grad, &R::nll_vec_sum_grad}},
  };
}

constexpr Reduction kReductions[] = {Reduction::None, Reduction::Mean, Reduction::Sum};

// log_softmax over the class dim, written with the ops this branch has (the reference's nll input).
Tensor log_softmax_ref(const RefTensor& logits) {
  int cdim = logits.shape.size() == 1 ? 0 : 1;
  Tensor x = logits.tensor();
  Tensor lse = x.exp().sum({cdim}, true);
  std::vector<double> v = lse.to_vector<double>();
  for (double& e : v) e = -std::log(e);
  return x + from_vector<double>(v, lse.shape());
}

}  // namespace

TEST_CASE("cross_entropy matches PyTorch for every option and reduction") {
  for (const ClassCase& c : class_cases()) {
    for (int r = 0; r < 3; ++r) {
      CAPTURE(c.name);
      CAPTURE(r);
      CrossEntropyOptions o = c.o;
      o.reduction = kReductions[r];
      Tensor x = c.logits->tensor();
      x.requires_grad_(true);
      Tensor loss = cross_entropy(x, c.target->tensor(kInt64), o);
      CHECK(loss.shape() == Shape(c.ce[r]->shape));
      CHECK_ALLCLOSE(loss, c.ce[r]->values, 1e-10, 1e-12);
      loss.sum().backward();
      CHECK_ALLCLOSE(x.grad(), c.ce_grad[r]->values, 1e-10, 1e-12);
      // float32 runs the same kernel with double accumulation.
      Tensor l32 = cross_entropy(c.logits->tensor(kFloat32), c.target->tensor(kInt64),
                                 {.weight = o.weight.defined() ? o.weight.to(kFloat32) : Tensor(),
                                  .ignore_index = o.ignore_index, .label_smoothing = o.label_smoothing,
                                  .reduction = o.reduction});
      CHECK(l32.dtype() == kFloat32);
      CHECK_ALLCLOSE(l32, c.ce[r]->values, 1e-5, 1e-6);
    }
  }
}

TEST_CASE("nll_loss matches PyTorch for every option and reduction") {
  for (const ClassCase& c : class_cases()) {
    if (!c.nll) continue;
    for (int r = 0; r < 3; ++r) {
      CAPTURE(c.name);
      CAPTURE(r);
      Tensor lp = log_softmax_ref(*c.logits);
      lp.requires_grad_(true);
      Tensor loss = nll_loss(lp, c.target->tensor(kInt64),
                             {.weight = c.o.weight, .ignore_index = c.o.ignore_index, .reduction = kReductions[r]});
      CHECK(loss.shape() == Shape(c.nll_ref[r]->shape));
      CHECK_ALLCLOSE(loss, c.nll_ref[r]->values, 1e-10, 1e-12);
      loss.sum().backward();
      CHECK_ALLCLOSE(lp.grad(), c.nll_grad[r]->values, 1e-10, 1e-12);
    }
  }
}

TEST_CASE("cross_entropy and nll_loss gradcheck") {
  for (const ClassCase& c : class_cases()) {
    for (Reduction red : kReductions) {
      CAPTURE(c.name);
      CrossEntropyOptions o = c.o;
      o.reduction = red;
      Tensor t = c.target->tensor(kInt64);
      CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t, o); }, {c.logits->tensor()});
      if (c.nll)
        CHECK_GRADCHECK([&](const std::vector<Tensor>& in) {
          return nll_loss(in[0], t, {.weight = o.weight, .ignore_index = o.ignore_index, .reduction = red});
        }, {c.logits->tensor()});
    }
  }
}

TEST_CASE("cross_entropy on non-contiguous logits") {
  // Transposed (C, N) storage seen as (N, C).
  Tensor xt = R::ce_logits.tensor().t().contiguous().t();
  CHECK_FALSE(xt.is_contiguous());
  CrossEntropyOptions o{.weight = weight(), .label_smoothing = 0.1};
  Tensor t = R::ce_target_ign.tensor(kInt64);
  CHECK_ALLCLOSE(cross_entropy(xt, t, o), R::ce_smooth_weight_ignore_mean.values, 1e-10, 1e-12);
  CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return cross_entropy(in[0].t(), t, o); },
                  {R::ce_logits.tensor().t().contiguous()});
  // (N, C, d) from a permuted (N, d, C) buffer.
  Tensor xnd = R::ce_logits_nd.tensor().permute({0, 2, 1}).contiguous().permute({0, 2, 1});
  CHECK_ALLCLOSE(cross_entropy(xnd, R::ce_target_nd.tensor(kInt64), {.reduction = Reduction::None}),
                 R::ce_nd_none.values, 1e-10, 1e-12);
}

TEST_CASE("cross_entropy on 4-d logits agrees with the flattened 2-d case and gradchecks") {
  Tensor x = testing::uniform({2, 3, 2, 2}, -2, 2, 41);
  Tensor t = from_vector<int64_t>({0, 2, -100, 1, 1, 0, 2, 2}, Shape{2, 2, 2});
  CrossEntropyOptions o{.weight = from_vector<double>({0.5, 1.0, 2.0}), .label_smoothing = 0.1,
                        .reduction = Reduction::None};
  Tensor flat = cross_entropy(x.permute({0, 2, 3, 1}).reshape({8, 3}), t.reshape({8}), o);
  CHECK_ALLCLOSE(cross_entropy(x, t, o), flat.reshape({2, 2, 2}), 1e-12, 1e-12);
  for (Reduction red : kReductions) {
    o.reduction = red;
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t, o); }, {x});
  }
}

TEST_CASE("cross_entropy is stable for huge logits") {
  for (DType dt : {kFloat32, kFloat64}) {
    Tensor x = R::ce_huge_logits.tensor(dt);
    x.requires_grad_(true);
    Tensor t = from_vector<int64_t>({1, 0});
    CHECK_ALLCLOSE(cross_entropy(x, t, {.reduction = Reduction::None}), R::ce_huge_none.values);
    cross_entropy(x, t, {.reduction = Reduction::Sum}).backward();
    CHECK_ALLCLOSE(x.grad(), R::ce_huge_sum_grad.values);
  }
}

TEST_CASE("cross_entropy with every target ignored gives nan and zero gradient as PyTorch") {
  Tensor x = R::ce_logits.tensor();
  x.requires_grad_(true);
  Tensor loss = cross_entropy(x, full({4}, -100, {.dtype = kInt64}));
  CHECK_ALLCLOSE(loss, R::ce_all_ignored_mean.values);
  loss.backward();
  CHECK_ALLCLOSE(x.grad(), R::ce_all_ignored_mean_grad.values);
}

TEST_CASE("cross_entropy and nll_loss errors") {
  Tensor x = zeros({3, 5});
  CHECK_THROWS_WITH_AS(cross_entropy(x, from_vector<int64_t>({0, 7, 1})),
                       doctest::Contains("[cross_entropy] target 7 is out of range for 5 classes"), atto::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, from_vector<int64_t>({0, -1, 1})),
                       doctest::Contains("[cross_entropy] target -1 is out of range for 5 classes"), atto::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, from_vector<int64_t>({0, 1})),
                       doctest::Contains("[cross_entropy] expected target of shape [3] for input of shape [3, 5], got [2]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, zeros({3})), doctest::Contains("[cross_entropy] target must hold int64"), atto::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, from_vector<int64_t>({0, 1, 2}), {.weight = ones({4})}),
                       doctest::Contains("[cross_entropy] weight must have one value per class, shape [5], got [4]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(cross_entropy(x, from_vector<int64_t>({0, 1, 2}), {.label_smoothing = 1.5}),
                       doctest::Contains("[cross_entropy] label_smoothing"), atto::Error);
  CHECK_THROWS_WITH_AS(nll_loss(x, from_vector<int64_t>({0, 5, 1})),
                       doctest::Contains("[nll_loss] target 5 is out of range for 5 classes"), atto::Error);
  CHECK_THROWS_WITH_AS(nll_loss(zeros({2, 3, 4}), zeros({2, 3}, {.dtype = kInt64})),
                       doctest::Contains("[nll_loss] expected target of shape [2, 4]"), atto::Error);
}

TEST_CASE("mse_loss matches PyTorch and gradchecks") {
  Tensor a = R::mse_a.tensor(), b = R::mse_b.tensor();
  const RefTensor* y[] = {&R::mse_none, &R::mse_mean, &R::mse_sum};
  const RefTensor* ga[] = {&R::mse_none_grad_a, &R::mse_mean_grad_a, &R::mse_sum_grad_a};
  const RefTensor* gb[] = {&R::mse_none_grad_b, &R::mse_mean_grad_b, &R::mse_sum_grad_b};
  for (int r = 0; r < 3; ++r) {
    CAPTURE(r);
    Tensor ar = a.clone(), br = b.t().contiguous().t();   // target non-contiguous
    ar.requires_grad_(true);
    br.requires_grad_(true);
    Tensor loss = mse_loss(ar, br, kReductions[r]);
    CHECK(loss.shape() == Shape(y[r]->shape));
    CHECK_ALLCLOSE(loss, y[r]->values, 1e-10, 1e-12);
    loss.sum().backward();
    CHECK_ALLCLOSE(ar.grad(), ga[r]->values, 1e-10, 1e-12);
    CHECK_ALLCLOSE(br.grad(), gb[r]->values, 1e-10, 1e-12);
    Reduction red = kReductions[r];
    CHECK_GRADCHECK([red](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1].t(), red); }, {a, b.t().contiguous()});
  }
  // Broadcast target (4) against input (3, 4).
  Tensor row = R::mse_b_row.tensor();
  row.requires_grad_(true);
  Tensor l = mse_loss(a, row);
  CHECK_ALLCLOSE(l, R::mse_bcast_mean.values, 1e-10, 1e-12);
  l.backward();
  CHECK(row.grad().shape() == Shape{4});
  CHECK_ALLCLOSE(row.grad(), R::mse_bcast_mean_grad_b.values, 1e-10, 1e-12);
  CHECK_GRADCHECK([](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1], Reduction::Sum); }, {a, R::mse_b_row.tensor()});
  CHECK_THROWS_WITH_AS(mse_loss(a, zeros({3}, {.dtype = kFloat64})), doctest::Contains("[mse_loss] shapes [3, 4] and [3]"), atto::Error);
}

TEST_CASE("binary_cross_entropy_with_logits matches PyTorch for weight pos_weight and reductions") {
  Tensor x = R::bce_x.tensor(), t = R::bce_t.tensor(), w = R::bce_w.tensor(), pw = R::bce_pw.tensor();
  struct Case { const char* name; Tensor w, pw; const RefTensor *y[3], *gx[3], *gt[3]; };
  Case cases[] = {
      {"plain", {}, {}, {&R::bce_plain_none, &R::bce_plain_mean, &R::bce_plain_sum},
       {&R::bce_plain_none_grad_x, &R::bce_plain_mean_grad_x, &R::bce_plain_sum_grad_x},
       {&R::bce_plain_none_grad_t, &R::bce_plain_mean_grad_t, &R::bce_plain_sum_grad_t}},
      {"weight", w, {}, {&R::bce_weight_none, &R::bce_weight_mean, &R::bce_weight_sum},
       {&R::bce_weight_none_grad_x, &R::bce_weight_mean_grad_x, &R::bce_weight_sum_grad_x},
       {&R::bce_weight_none_grad_t, &R::bce_weight_mean_grad_t, &R::bce_weight_sum_grad_t}},
      {"pos", {}, pw, {&R::bce_pos_none, &R::bce_pos_mean, &R::bce_pos_sum},
       {&R::bce_pos_none_grad_x, &R::bce_pos_mean_grad_x, &R::bce_pos_sum_grad_x},
       {&R::bce_pos_none_grad_t, &R::bce_pos_mean_grad_t, &R::bce_pos_sum_grad_t}},
      {"both", w, pw, {&R::bce_both_none, &R::bce_both_mean, &R::bce_both_sum},
       {&R::bce_both_none_grad_x, &R::bce_both_mean_grad_x, &R::bce_both_sum_grad_x},
       {&R::bce_both_none_grad_t, &R::bce_both_mean_grad_t, &R::bce_both_sum_grad_t}},
  };
  for (const Case& c : cases) {
    for (int r = 0; r < 3; ++r) {
      CAPTURE(c.name);
      CAPTURE(r);
      Tensor xr = x.t().contiguous().t(), tr = t.clone();   // non-contiguous logits
      xr.requires_grad_(true);
      tr.requires_grad_(true);
      Tensor loss = binary_cross_entropy_with_logits(xr, tr, c.w, c.pw, kReductions[r]);
      CHECK(loss.shape() == Shape(c.y[r]->shape));
      CHECK_ALLCLOSE(loss, c.y[r]->values, 1e-10, 1e-12);
      loss.sum().backward();
      CHECK_ALLCLOSE(xr.grad(), c.gx[r]->values, 1e-10, 1e-12);
      CHECK_ALLCLOSE(tr.grad(), c.gt[r]->values, 1e-10, 1e-12);
    }
  }
}

TEST_CASE("binary_cross_entropy_with_logits gradcheck and errors") {
  Tensor x = testing::uniform({3, 4}, -4, 4, 21), t = testing::uniform({3, 4}, 0, 1, 22);
  Tensor w = R::bce_w.tensor(), pw = R::bce_pw.tensor();
  for (Reduction red : kReductions) {
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) {
      return binary_cross_entropy_with_logits(in[0], in[1], w, pw, red);
    }, {x, t});
    CHECK_GRADCHECK([&](const std::vector<Tensor>& in) {
      return binary_cross_entropy_with_logits(in[0].t(), in[1], {}, {}, red);
    }, {x.t().contiguous(), t});
  }
  CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(x, zeros({4}, {.dtype = kFloat64})),
                       doctest::Contains("[binary_cross_entropy_with_logits] target shape [4] must match input shape [3, 4]"),
                       atto::Error);
  CHECK_THROWS_WITH_AS(binary_cross_entropy_with_logits(x, t, {}, ones({3}, {.dtype = kFloat64})),
                       doctest::Contains("[binary_cross_entropy_with_logits]"), atto::Error);
}
