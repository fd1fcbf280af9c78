"""ResNetSE: (B, 1, 28, 28) -> (B, 10), классификатор, 2D.

Создано cnngen 0.1.0. Пересоздать:

    cnngen model classifier --input-size 28x28 --block residual --se --name ResNetSE --output examples/golden/model_classifier_ru.py --lang ru

План (размеры без размерности батча B):

    стадия  выход      параметры  слои
    layer1  32x28x28   10 020     Residual: Conv2d 3, BatchNorm2d, ReLU, Conv2d 3, BatchNorm2d, SqueezeExcite, Conv2d 1, BatchNorm2d, ReLU
    layer2  64x14x14   58 308     Residual: Conv2d 3/2, BatchNorm2d, ReLU, Conv2d 3, BatchNorm2d, SqueezeExcite, Conv2d 1/2, BatchNorm2d, ReLU
    layer3  128x14x14  232 328    Residual: Conv2d 3, BatchNorm2d, ReLU, Conv2d 3, BatchNorm2d, SqueezeExcite, Conv2d 1, BatchNorm2d, ReLU
    layer4  256x7x7    927 504    Residual: Conv2d 3/2, BatchNorm2d, ReLU, Conv2d 3, BatchNorm2d, SqueezeExcite, Conv2d 1/2, BatchNorm2d, ReLU
    head    10         125 450    Flatten, Linear

Параметров: 1 353 610
Умножений-сложений на пример: 108 767 488
Рецептивное поле: 28x28 (весь вход)
"""

from collections import OrderedDict

import torch
from torch import nn

INPUT_SHAPE = (1, 28, 28)
OUTPUT_SHAPE = (10,)
FAMILY = "classifier"
PARAMETERS = 1353610
MACS = 108767488  # умножений-сложений на пример

# Размер выхода каждой стадии и каждого слоя, меняющего размер, без
# размерности батча. `cnngen verify` ставит хук на каждый и сравнивает.
LAYER_SHAPES = {
    "layer1.conv1": (32, 28, 28),
    "layer1.downsample.0": (32, 28, 28),
    "layer1": (32, 28, 28),
    "layer2.conv1": (64, 14, 14),
    "layer2.downsample.0": (64, 14, 14),
    "layer2": (64, 14, 14),
    "layer3.conv1": (128, 14, 14),
    "layer3.downsample.0": (128, 14, 14),
    "layer3": (128, 14, 14),
    "layer4.conv1": (256, 7, 7),
    "layer4.downsample.0": (256, 7, 7),
    "layer4": (256, 7, 7),
    "head.flatten": (12544,),
    "head.fc1": (10,),
    "head": (10,),
}


@torch.fx.wrap
def check_input(x: torch.Tensor) -> torch.Tensor:
    """Сразу сообщает об ошибке и называет ожидаемый размер, если размер входа другой."""
    if list(x.shape[1:]) != [1, 28, 28]:
        raise ValueError(
            f"ожидался вход размера (B, 1, 28, 28), а получен {list(x.shape)}"
        )
    return x


class Residual(nn.Module):
    """Остаточный блок: ``act(layers(x) + downsample(x))``.

    Слои основного пути — атрибуты блока с именами как в torchvision
    (``conv1``, ``bn1``, ...); они выполняются в порядке ``LAYERS``, а на месте
    слоя, которого в блоке нет, стоит ``nn.Identity``.  ``downsample``
    согласует число каналов и шаг там, где размеры различаются.
    """

    LAYERS = ("conv1", "bn1", "act1", "conv2", "bn2", "se")

    def __init__(
        self, act: nn.Module, downsample: nn.Module | None = None, **layers: nn.Module
    ) -> None:
        super().__init__()
        for name in self.LAYERS:
            self.add_module(name, layers.pop(name, nn.Identity()))
        self.downsample = nn.Identity() if downsample is None else downsample
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        out = self.conv1(out)
        out = self.bn1(out)
        out = self.act1(out)
        out = self.conv2(out)
        out = self.bn2(out)
        out = self.se(out)
        return self.act(out + self.downsample(x))


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation (Hu и др., 2018): перевзвешивает каналы по всей карте.

    Карта признаков усредняется до одного значения на канал, проходит через
    небольшое узкое место (bottleneck), и сигмоида результата масштабирует
    каждый канал.
    """

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.reduce = nn.Linear(channels, reduced)
        self.expand = nn.Linear(reduced, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = x.flatten(2).mean(dim=2)  # (B, C)
        scale = torch.sigmoid(self.expand(torch.relu(self.reduce(context))))
        return x * scale[:, :, None, None]


class ResNetSE(nn.Module):
    """Классификатор для входов размера (B, 1, 28, 28).

    Все размеры точные: размеры в комментариях проверяются запуском
    этого файла (`python FILE`) и командой `cnngen verify FILE`.
    """

    def __init__(self) -> None:
        super().__init__()
        # layer1: (B, 1, 28, 28) -> (B, 32, 28, 28)
        self.layer1 = Residual(
            # -> (B, 32, 28, 28)
            conv1=nn.Conv2d(1, 32, kernel_size=3, padding=1, bias=False),
            bn1=nn.BatchNorm2d(32),
            act1=nn.ReLU(),
            conv2=nn.Conv2d(32, 32, kernel_size=3, padding=1, bias=False),
            bn2=nn.BatchNorm2d(32),
            se=SqueezeExcite(32, 4),
            downsample=nn.Sequential(
                # -> (B, 32, 28, 28)
                nn.Conv2d(1, 32, kernel_size=1, bias=False),
                nn.BatchNorm2d(32),
            ),
            act=nn.ReLU(),
        )
        # layer2: (B, 32, 28, 28) -> (B, 64, 14, 14)
        self.layer2 = Residual(
            # -> (B, 64, 14, 14)
            conv1=nn.Conv2d(32, 64, kernel_size=3, stride=2, padding=1, bias=False),
            bn1=nn.BatchNorm2d(64),
            act1=nn.ReLU(),
            conv2=nn.Conv2d(64, 64, kernel_size=3, padding=1, bias=False),
            bn2=nn.BatchNorm2d(64),
            se=SqueezeExcite(64, 4),
            downsample=nn.Sequential(
                # -> (B, 64, 14, 14)
                nn.Conv2d(32, 64, kernel_size=1, stride=2, bias=False),
                nn.BatchNorm2d(64),
            ),
            act=nn.ReLU(),
        )
        # layer3: (B, 64, 14, 14) -> (B, 128, 14, 14)
        self.layer3 = Residual(
            # -> (B, 128, 14, 14)
            conv1=nn.Conv2d(64, 128, kernel_size=3, padding=1, bias=False),
            bn1=nn.BatchNorm2d(128),
            act1=nn.ReLU(),
            conv2=nn.Conv2d(128, 128, kernel_size=3, padding=1, bias=False),
            bn2=nn.BatchNorm2d(128),
            se=SqueezeExcite(128, 8),
            downsample=nn.Sequential(
                # -> (B, 128, 14, 14)
                nn.Conv2d(64, 128, kernel_size=1, bias=False),
                nn.BatchNorm2d(128),
            ),
            act=nn.ReLU(),
        )
        # layer4: (B, 128, 14, 14) -> (B, 256, 7, 7)
        self.layer4 = Residual(
            # -> (B, 256, 7, 7)
            conv1=nn.Conv2d(128, 256, kernel_size=3, stride=2, padding=1, bias=False),
            bn1=nn.BatchNorm2d(256),
            act1=nn.ReLU(),
            conv2=nn.Conv2d(256, 256, kernel_size=3, padding=1, bias=False),
            bn2=nn.BatchNorm2d(256),
            se=SqueezeExcite(256, 16),
            downsample=nn.Sequential(
                # -> (B, 256, 7, 7)
                nn.Conv2d(128, 256, kernel_size=1, stride=2, bias=False),
                nn.BatchNorm2d(256),
            ),
            act=nn.ReLU(),
        )
        # head: (B, 256, 7, 7) -> (B, 10)
        self.head = nn.Sequential(
            OrderedDict(
                # -> (B, 12544)
                flatten=nn.Flatten(),
                # -> (B, 10)
                fc1=nn.Linear(12544, 10),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = check_input(x)
        x = self.layer1(x)  # (B, 32, 28, 28)
        x = self.layer2(x)  # (B, 64, 14, 14)
        x = self.layer3(x)  # (B, 128, 14, 14)
        x = self.layer4(x)  # (B, 256, 7, 7)
        x = self.head(x)  # (B, 10)
        return x


if __name__ == "__main__":
    torch.manual_seed(0)
    model = ResNetSE()
    batch = torch.randn(2, *INPUT_SHAPE)
    output = model(batch)
    assert tuple(output.shape) == (2, *OUTPUT_SHAPE), tuple(output.shape)
    parameters = sum(p.numel() for p in model.parameters())
    assert parameters == PARAMETERS, parameters
    print(
        f"ResNetSE: {tuple(batch.shape)} -> {tuple(output.shape)}, параметров: {parameters}"
    )
