// tests/ops/test_index.cpp -- index_select, gather, scatter_add, embedding, one_hot: values and
// gradients vs PyTorch (tools/gen_ref_shape_index.py), gradcheck, non-contiguous inputs, determinism,
// out-of-range errors.
#include "reference/shape_index.h"
#include "test_util.h"

using namespace atto;
namespace R = ref::shape_index;

namespace {
Tensor idx(const RefTensor& r) { return r.tensor(kInt64); }
// 0, 1, 2, ... in C order: the projection the reference scripts use (torch.arange(n).reshape(s)).
Tensor arange_like(const Shape& s) {
  std::vector<double> v(size_t(s.numel()));
  for (size_t k = 0; k < v.size(); ++k) v[k] = double(k);
  return from_vector<double>(v, s);
}
}  // namespace

TEST_CASE("index_select matches PyTorch along dim 0 and 1") {
  Tensor x = R::x.tensor(), i = idx(R::isel_idx);
  Tensor y0 = index_select(x, 0, i);
  CHECK(y0.shape() == Shape{4, 5});
  CHECK_ALLCLOSE(y0, R::isel_dim0.values);
  Tensor y1 = index_select(x, 1, i);
  CHECK(y1.shape() == Shape{4, 4});
  CHECK_ALLCLOSE(y1, R::isel_dim1.values);
  CHECK_ALLCLOSE(index_select(x.t().contiguous().t(), -1, i), R::isel_dim1.values);   // non-contiguous x
  CHECK_ALLCLOSE(index_select(x, 0, i.reshape({2, 2}).t().flatten()), index_select(x, 0, from_vector<int64_t>({3, 3, 0, 1})));
  CHECK(index_select(x, 0, scalar_tensor(2, {.dtype = kInt64})).shape() == Shape{1, 5});
  Tensor s = index_select(scalar_tensor(5.0), 0, from_vector<int64_t>({0}));   // 0-d in, 0-d out
  CHECK(s.shape() == Shape{});
  CHECK(s.item<double>() == 5.0);
  CHECK(gather(scalar_tensor(5.0), 0, scalar_tensor(0, {.dtype = kInt64})).shape() == Shape{});
}

TEST_CASE("index_select backward matches PyTorch and gradchecks") {
  Tensor x = R::x.tensor();
  x.requires_grad_(true);
  (index_select(x, 0, idx(R::isel_idx)) * arange_like({4, 5})).sum().backward();
  CHECK_ALLCLOSE(x.grad(), R::isel_dim0_grad.values);
  Tensor i = idx(R::isel_idx);
  CHECK_GRADCHECK([i](const std::vector<Tensor>& in) { return index_select(in[0], 1, i); }, {R::x.tensor()});
  CHECK_GRADCHECK([i](const std::vector<Tensor>& in) { return index_select(in[0].t(), 0, i); }, {R::x.tensor()});
}

TEST_CASE("gather matches PyTorch and gradchecks") {
  Tensor x = R::x.tensor();
  Tensor g0 = gather(x, 0, idx(R::gather_idx0));
  CHECK(g0.shape() == Shape{2, 3});
  CHECK_ALLCLOSE(g0, R::gather_dim0.values);
  CHECK_ALLCLOSE(gather(x, 1, idx(R::gather_idx1)), R::gather_dim1.values);
  // Non-contiguous x and index.
  Tensor xt = x.t().contiguous().t();
  Tensor it = idx(R::gather_idx1).t().contiguous().t();
  CHECK_FALSE(it.is_contiguous());
  CHECK_ALLCLOSE(gather(xt, -1, it), R::gather_dim1.values);
  Tensor xr = x.clone();
  xr.requires_grad_(true);
  (gather(xr, 1, idx(R::gather_idx1)) * arange_like({3, 2})).sum().backward();
  CHECK_ALLCLOSE(xr.grad(), R::gather_dim1_grad.values);
  Tensor i0 = idx(R::gather_idx0), i1 = idx(R::gather_idx1);
  CHECK_GRADCHECK([i0](const std::vector<Tensor>& in) { return gather(in[0], 0, i0); }, {R::x.tensor()});
  CHECK_GRADCHECK([i1](const std::vector<Tensor>& in) { return gather(in[0].t(), 0, i1.t()); }, {R::x.tensor()});
}

TEST_CASE("scatter_add matches PyTorch and gradchecks in x and src") {
  Tensor x = R::x.tensor(), src = R::scatter_src.tensor();
  Tensor i0 = idx(R::scatter_idx0), i1 = idx(R::scatter_idx1);
  Tensor y0 = scatter_add(x, 0, i0, src);
  CHECK(y0.shape() == x.shape());
  CHECK_ALLCLOSE(y0, R::scatter_add_dim0.values);
  CHECK_ALLCLOSE(scatter_add(x, 1, i1, src), R::scatter_add_dim1.values);
  CHECK_ALLCLOSE(scatter_add(x.t().contiguous().t(), 1, i1, src.t().contiguous().t()), R::scatter_add_dim1.values);
  CHECK_ALLCLOSE(x, R::x.values);   // out of place
  CHECK_GRADCHECK([i0](const std::vector<Tensor>& in) { return scatter_add(in[0], 0, i0, in[1]); }, {x, src});
  CHECK_GRADCHECK([i1](const std::vector<Tensor>& in) { return scatter_add(in[0].t().t(), 1, i1, in[1].t().t()); },
                  {x, src});
  // src larger than index: the elements index does not reach get zero gradient.
  Tensor s = src.clone();
  s.requires_grad_(true);
  scatter_add(x, 0, i0, s).sum().backward();
  std::vector<double> g = s.grad().to_vector<double>();
  for (int k = 8; k < 12; ++k) CHECK(g[size_t(k)] == 0.0);
  for (int k = 0; k < 8; ++k) CHECK(g[size_t(k)] == 1.0);
}

TEST_CASE("embedding matches PyTorch including padding_idx gradients") {
  Tensor w = R::emb_weight.tensor(), i = idx(R::emb_idx);
  Tensor y = embedding(w, i);
  CHECK(y.shape() == Shape{2, 3, 3});
  CHECK_ALLCLOSE(y, R::emb_out.values);
  CHECK_ALLCLOSE(embedding(w.t().contiguous().t(), i), R::emb_out.values);
  Tensor proj = arange_like({2, 3, 3}) + (-7.0);
  struct Case { std::optional<int64_t> pad; const RefTensor* grad; };
  for (Case c : {Case{std::nullopt, &R::emb_grad}, Case{5, &R::emb_grad_pad5}, Case{-5, &R::emb_grad_padneg5}}) {
    Tensor wr = R::emb_weight.tensor();
    wr.requires_grad_(true);
    (embedding(wr, i, c.pad) * proj).sum().backward();
    CHECK_ALLCLOSE(wr.grad(), c.grad->values);
  }
  CHECK_GRADCHECK([i](const std::vector<Tensor>& in) { return embedding(in[0], i); }, {w});
  CHECK_GRADCHECK([i](const std::vector<Tensor>& in) { return embedding(in[0].t().contiguous().t(), i.t()); }, {w});
  Tensor scalar_index = scalar_tensor(4, {.dtype = kInt64});
  CHECK(embedding(w, scalar_index).shape() == Shape{3});
}

TEST_CASE("embedding backward is deterministic across thread counts") {
  // Many repeated indices into few rows: every row receives hundreds of additions.
  const int64_t n = 7, d = 33, k = 20000;
  std::vector<int64_t> iv(k);
  for (int64_t j = 0; j < k; ++j) iv[size_t(j)] = (j * 7919 + j / 3) % n;
  Tensor i = from_vector<int64_t>(iv);
  Tensor proj = testing::uniform({k, d}, -1, 1, 11, kFloat32);
  auto grad_with = [&](int threads) {
    set_num_threads(threads);
    Tensor w = testing::uniform({n, d}, -1, 1, 12, kFloat32);
    w.requires_grad_(true);
    (embedding(w, i) * proj).sum().backward();
    return w.grad().to_vector<float>();
  };
  int before = get_num_threads();
  auto g1 = grad_with(1);
  auto g4 = grad_with(4);
  set_num_threads(before);
  CHECK(g1 == g4);
}

TEST_CASE("one_hot matches PyTorch") {
  Tensor i = idx(R::onehot_idx);
  Tensor a = one_hot(i);
  CHECK(a.dtype() == kInt64);
  CHECK(a.shape() == Shape{2, 2, 4});
  CHECK_ALLCLOSE(a, R::onehot_auto.values);
  Tensor b = one_hot(i.t(), 6).transpose(0, 1);
  CHECK(b.shape() == Shape{2, 2, 6});
  CHECK_ALLCLOSE(b, R::onehot_6.values);
  CHECK_THROWS_WITH_AS(one_hot(i, 3), doctest::Contains("[one_hot] class value 3 is out of range for 3 classes"), atto::Error);
  CHECK_THROWS_WITH_AS(one_hot(from_vector<int64_t>({1, -2})), doctest::Contains("[one_hot] class value -2"), atto::Error);
  CHECK_THROWS_WITH_AS(one_hot(zeros({0}, {.dtype = kInt64})), doctest::Contains("[one_hot]"), atto::Error);
  CHECK_THROWS_WITH_AS(one_hot(zeros({2})), doctest::Contains("[one_hot] indices must be int64"), atto::Error);
}

TEST_CASE("indexing errors name the op the bad index and the valid range") {
  Tensor x = zeros({4, 5});
  CHECK_THROWS_WITH_AS(index_select(x, 0, from_vector<int64_t>({1, 7})),
                       doctest::Contains("[index_select] index 7 is out of range for dim 0 of size 4"), atto::Error);
  CHECK_THROWS_WITH_AS(index_select(x, 1, from_vector<int64_t>({-1})),
                       doctest::Contains("valid range [0, 5)"), atto::Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, zeros({2})), doctest::Contains("[index_select] index must be int64"), atto::Error);
  CHECK_THROWS_WITH_AS(index_select(x, 0, zeros({2, 2}, {.dtype = kInt64})), doctest::Contains("[index_select] index must be 1-d"), atto::Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, from_vector<int64_t>({0, 5}, Shape{1, 2})),
                       doctest::Contains("[gather] index 5 is out of range for dim 1 of size 5"), atto::Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, zeros({5, 1}, {.dtype = kInt64})), doctest::Contains("[gather] index size 5 exceeds x size 4 at dim 0"), atto::Error);
  CHECK_THROWS_WITH_AS(gather(x, 1, zeros({4}, {.dtype = kInt64})), doctest::Contains("[gather]"), atto::Error);
  CHECK_THROWS_WITH_AS(scatter_add(x, 0, from_vector<int64_t>({4}, Shape{1, 1}), zeros({1, 1})),
                       doctest::Contains("[scatter_add] index 4 is out of range for dim 0 of size 4"), atto::Error);
  CHECK_THROWS_WITH_AS(scatter_add(x, 0, zeros({2, 2}, {.dtype = kInt64}), zeros({1, 2})),
                       doctest::Contains("[scatter_add]"), atto::Error);
  CHECK_THROWS_WITH_AS(scatter_add(x, 0, zeros({1, 1}, {.dtype = kInt64}), zeros({1, 1}, {.dtype = kFloat64})),
                       doctest::Contains("[scatter_add] src is float64 but x is float32"), atto::Error);
  Tensor w = zeros({6, 3});
  CHECK_THROWS_WITH_AS(embedding(w, from_vector<int64_t>({0, 6})),
                       doctest::Contains("[embedding] index 6 is out of range for 6 embeddings"), atto::Error);
  CHECK_THROWS_WITH_AS(embedding(w, from_vector<int64_t>({0}), 6), doctest::Contains("[embedding] padding_idx 6"), atto::Error);
  CHECK_THROWS_WITH_AS(embedding(zeros({6}), from_vector<int64_t>({0})), doctest::Contains("[embedding] weight must be 2-d"), atto::Error);
}
