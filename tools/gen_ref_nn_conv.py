"""Reference values for nn::Conv2d, MaxPool2d, AvgPool2d (nn/conv.h) from PyTorch 1.13: a strided,
padded, dilated, grouped Conv2d with fixed weights (output and the gradients of input, weight and
bias for loss = sum(y * R)) and the two pools as modules."""
import torch
from refgen import Ref

torch.manual_seed(0)
ref = Ref("nn_conv")
D = torch.float64

conv = torch.nn.Conv2d(4, 6, kernel_size=(3, 2), stride=(2, 1), padding=1, dilation=(1, 2), groups=2).double()
x = torch.randn(2, 4, 7, 8, dtype=D, requires_grad=True)
y = conv(x)
R = torch.randn(y.shape, dtype=D)
(y * R).sum().backward()
for name, t in (("x", x.detach()), ("y", y), ("R", R), ("dx", x.grad), ("weight", conv.weight.detach()),
                ("dweight", conv.weight.grad), ("bias", conv.bias.detach()), ("dbias", conv.bias.grad)):
    ref.add(f"conv_{name}", t)

x = torch.randn(2, 3, 7, 6, dtype=D)
ref.add("pool_x", x)
ref.add("maxpool_y", torch.nn.MaxPool2d((3, 2), stride=(2, 1), padding=1)(x))
ref.add("avgpool_y", torch.nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)(x))
ref.write()
