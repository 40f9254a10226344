"""tools/gen_ref_rnn.py -- PyTorch reference values for the recurrent layers (tests/nn/test_rnn.cpp).
Run with /usr/bin/python3; writes tests/reference/rnn.h.

Every case builds a torch.nn module, fixes its weights through load_state_dict (values drawn here,
rounded to float32), runs forward and backward of a weighted sum of everything it returns,
    loss = sum(output * w_out) + sum(h_n * w_h) [+ sum(c_n * w_c)],
and records, for float32 and float64 runs on the same values:
    {case}_x, {case}_h0, {case}_c0       inputs (h0/c0 only when the case passes an initial state)
    {case}_params                        every parameter, flattened and concatenated in PyTorch's
                                         _flat_weights order (weight_ih_l0, weight_hh_l0, bias_ih_l0, ...)
    {case}_w_out, {case}_w_h, {case}_w_c the weightings
    {case}_out, {case}_h_n, {case}_c_n   forward results (float32 run), *_64 from the float64 run
    {case}_gx, {case}_gh0, {case}_gc0, {case}_gparams   gradients (float32 run), *_64 likewise
Variable-length cases have non-empty {case}_lengths and run through
pack_padded_sequence(enforce_sorted=False) / pad_packed_sequence(total_length=T). For the modules
(nn::LSTM, ...), {case}_keys and {case}_repr hold the module's state_dict keys (joined by spaces)
and its repr(), as character codes (see text()). Every case writes
every entry, so the C++ side can use one table; an entry a case lacks is empty (shape [0]). Cells
use the same names with h_n/c_n for h'/c' and h0/c0 for h/c.
"""
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from refgen import Ref

torch.manual_seed(0)
ref = Ref("rnn")
NONE = torch.zeros(0)   # an entry a case does not have (no initial state, not an LSTM, no lengths)


def text(s):
    # a string as a 1-d tensor of its character codes (RefTensor holds numbers only)
    return torch.tensor([ord(ch) for ch in s], dtype=torch.int64)


def draw(*shape):
    # float32-representable values, so the float32 and float64 runs see the same numbers
    return torch.randn(*shape).float().double()


def run_layer(name, kind, I, H, T, B, num_layers=1, bidirectional=False, batch_first=False, bias=True,
              nonlinearity="tanh", initial_state=True, lengths=None, unbatched=False):
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[kind]
    kwargs = dict(num_layers=num_layers, bias=bias, batch_first=batch_first, bidirectional=bidirectional)
    if kind == "rnn":
        kwargs["nonlinearity"] = nonlinearity
    module = cls(I, H, **kwargs).double()
    state = {k: draw(*v.shape) * 0.5 for k, v in module.state_dict().items()}
    names = list(module._flat_weights_names)
    assert names == list(state.keys())
    ref.add(f"{name}_keys", text(" ".join(names)))
    ref.add(f"{name}_repr", text(repr(module)))
    D = 2 if bidirectional else 1
    if unbatched:
        x = draw(T, I)
        sshape = (D * num_layers, H)
    else:
        x = draw(B, T, I) if batch_first else draw(T, B, I)
        sshape = (D * num_layers, B, H)
    h0 = draw(*sshape) if initial_state else None
    c0 = draw(*sshape) if (initial_state and kind == "lstm") else None
    ref.add(f"{name}_x", x)
    ref.add(f"{name}_h0", h0 if h0 is not None else NONE)
    ref.add(f"{name}_c0", c0 if c0 is not None else NONE)
    ref.add(f"{name}_params", torch.cat([state[n].reshape(-1) for n in names]))
    ref.add(f"{name}_lengths", torch.tensor(lengths if lengths is not None else [], dtype=torch.int64))

    weights = None
    for dtype, suffix in ((torch.float32, ""), (torch.float64, "_64")):
        m = cls(I, H, **kwargs).to(dtype)
        m.load_state_dict({k: v.to(dtype) for k, v in state.items()})
        xi = x.to(dtype).requires_grad_()
        h0i = h0.to(dtype).requires_grad_() if h0 is not None else None
        c0i = c0.to(dtype).requires_grad_() if c0 is not None else None
        hx = (h0i, c0i) if kind == "lstm" and h0i is not None else h0i
        if lengths is not None:
            packed = pack_padded_sequence(xi, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
            out_p, hn = m(packed, hx)
            out, _ = pad_packed_sequence(out_p, batch_first=batch_first, total_length=T)
        else:
            out, hn = m(xi, hx)
        h_n, c_n = hn if kind == "lstm" else (hn, None)
        if weights is None:
            weights = [draw(*out.shape), draw(*h_n.shape), draw(*c_n.shape) if c_n is not None else None]
            ref.add(f"{name}_w_out", weights[0])
            ref.add(f"{name}_w_h", weights[1])
            ref.add(f"{name}_w_c", weights[2] if c_n is not None else NONE)
        loss = (out * weights[0].to(dtype)).sum() + (h_n * weights[1].to(dtype)).sum()
        if c_n is not None:
            loss = loss + (c_n * weights[2].to(dtype)).sum()
        loss.backward()
        ref.add(f"{name}_out{suffix}", out)
        ref.add(f"{name}_h_n{suffix}", h_n)
        ref.add(f"{name}_c_n{suffix}", c_n if c_n is not None else NONE)
        ref.add(f"{name}_gx{suffix}", xi.grad)
        ref.add(f"{name}_gh0{suffix}", h0i.grad if h0i is not None else NONE)
        ref.add(f"{name}_gc0{suffix}", c0i.grad if c0i is not None else NONE)
        ref.add(f"{name}_gparams{suffix}", torch.cat([dict(m.named_parameters())[n].grad.reshape(-1) for n in names]))


def run_cell(name, kind, I, H, B, bias=True, nonlinearity="tanh", unbatched=False):
    cls = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell, "rnn": torch.nn.RNNCell}[kind]
    kwargs = dict(bias=bias)
    if kind == "rnn":
        kwargs["nonlinearity"] = nonlinearity
    module = cls(I, H, **kwargs).double()
    state = {k: draw(*v.shape) * 0.5 for k, v in module.state_dict().items()}
    names = list(state.keys())   # weight_ih, weight_hh, bias_ih, bias_hh
    ref.add(f"{name}_keys", text(" ".join(names)))
    ref.add(f"{name}_repr", text(repr(module)))
    x = draw(I) if unbatched else draw(B, I)
    h = draw(H) if unbatched else draw(B, H)
    c = draw(*h.shape) if kind == "lstm" else None
    ref.add(f"{name}_x", x)
    ref.add(f"{name}_h0", h)
    ref.add(f"{name}_c0", c if c is not None else NONE)
    ref.add(f"{name}_params", torch.cat([state[n].reshape(-1) for n in names]))
    weights = None
    for dtype, suffix in ((torch.float32, ""), (torch.float64, "_64")):
        m = cls(I, H, **kwargs).to(dtype)
        m.load_state_dict({k: v.to(dtype) for k, v in state.items()})
        xi = x.to(dtype).requires_grad_()
        hi = h.to(dtype).requires_grad_()
        ci = c.to(dtype).requires_grad_() if c is not None else None
        if kind == "lstm":
            h1, c1 = m(xi, (hi, ci))
        else:
            h1, c1 = m(xi, hi), None
        if weights is None:
            weights = [draw(*h1.shape), draw(*h1.shape) if c1 is not None else None]
            ref.add(f"{name}_w_h", weights[0])
            ref.add(f"{name}_w_c", weights[1] if c1 is not None else NONE)
        loss = (h1 * weights[0].to(dtype)).sum()
        if c1 is not None:
            loss = loss + (c1 * weights[1].to(dtype)).sum()
        loss.backward()
        ref.add(f"{name}_h_n{suffix}", h1)
        ref.add(f"{name}_c_n{suffix}", c1 if c1 is not None else NONE)
        ref.add(f"{name}_gx{suffix}", xi.grad)
        ref.add(f"{name}_gh0{suffix}", hi.grad)
        ref.add(f"{name}_gc0{suffix}", ci.grad if ci is not None else NONE)
        ref.add(f"{name}_gparams{suffix}", torch.cat([dict(m.named_parameters())[n].grad.reshape(-1) for n in names]))


# ---- cells
run_cell("lstm_cell", "lstm", I=4, H=5, B=3)
run_cell("gru_cell", "gru", I=4, H=5, B=3)
run_cell("rnn_tanh_cell", "rnn", I=4, H=5, B=3)
run_cell("rnn_relu_cell", "rnn", I=4, H=5, B=3, nonlinearity="relu")
run_cell("lstm_cell_nobias_unbatched", "lstm", I=3, H=4, B=1, bias=False, unbatched=True)
run_cell("gru_cell_unbatched", "gru", I=3, H=4, B=1, unbatched=True)

# ---- layers
run_layer("lstm_2l_bi_bf", "lstm", I=4, H=3, T=5, B=3, num_layers=2, bidirectional=True, batch_first=True)
run_layer("lstm_1l", "lstm", I=4, H=5, T=6, B=2, initial_state=False)
run_layer("gru_2l_bi", "gru", I=3, H=4, T=5, B=3, num_layers=2, bidirectional=True)
run_layer("rnn_relu_2l", "rnn", I=4, H=5, T=4, B=3, num_layers=2, nonlinearity="relu")
run_layer("rnn_tanh_bi_nobias", "rnn", I=3, H=4, T=4, B=2, bidirectional=True, bias=False)
run_layer("lstm_unbatched", "lstm", I=3, H=4, T=4, B=1, num_layers=2, unbatched=True)

# ---- variable lengths (unsorted on purpose; one sequence with the full T)
run_layer("lstm_len", "lstm", I=3, H=4, T=6, B=4, num_layers=2, bidirectional=True, lengths=[4, 6, 1, 3])
run_layer("gru_len_bf", "gru", I=3, H=4, T=5, B=3, num_layers=1, bidirectional=True, batch_first=True,
          lengths=[2, 5, 3])
run_layer("rnn_len", "rnn", I=3, H=4, T=5, B=3, num_layers=2, lengths=[3, 1, 5], initial_state=False)

ref.write()
