"""UNet: (B, 1, 64, 64) -> (B, 2, 64, 64), сеть U-Net, 2D.

Создано cnngen 0.1.0. Пересоздать:

    cnngen model unet --input-size 64x64 --output examples/golden/model_unet_ru.py --lang ru

План (размеры без размерности батча B):

    стадия      выход      параметры  слои
    enc1        32x64x64   9 632      Conv2d 3, BatchNorm2d, ReLU, Conv2d 3, BatchNorm2d, ReLU
    enc2        64x32x32   55 552     MaxPool2d 2, Conv2d 3, BatchNorm2d, ReLU, Conv2d 3, BatchNorm2d, ReLU
    enc3        128x16x16  221 696    MaxPool2d 2, Conv2d 3, BatchNorm2d, ReLU, Conv2d 3, BatchNorm2d, ReLU
    enc4        256x8x8    885 760    MaxPool2d 2, Conv2d 3, BatchNorm2d, ReLU, Conv2d 3, BatchNorm2d, ReLU
    bottleneck  512x4x4    3 540 992  MaxPool2d 2, Conv2d 3, BatchNorm2d, ReLU, Conv2d 3, BatchNorm2d, ReLU
    up4         256x8x8    524 544    ConvTranspose2d 2/2
    cat4        512x8x8    0
    dec4        256x8x8    1 770 496  Conv2d 3, BatchNorm2d, ReLU, Conv2d 3, BatchNorm2d, ReLU
    up3         128x16x16  131 200    ConvTranspose2d 2/2
    cat3        256x16x16  0
    dec3        128x16x16  442 880    Conv2d 3, BatchNorm2d, ReLU, Conv2d 3, BatchNorm2d, ReLU
    up2         64x32x32   32 832     ConvTranspose2d 2/2
    cat2        128x32x32  0
    dec2        64x32x32   110 848    Conv2d 3, BatchNorm2d, ReLU, Conv2d 3, BatchNorm2d, ReLU
    up1         32x64x64   8 224      ConvTranspose2d 2/2
    cat1        64x64x64   0
    dec1        32x64x64   27 776     Conv2d 3, BatchNorm2d, ReLU, Conv2d 3, BatchNorm2d, ReLU
    head        2x64x64    66         Conv2d 1

Параметров: 7 762 498
Умножений-сложений на пример: 752 222 208
Рецептивное поле: 64x64 (весь вход)
Примечание: каждый уровень декодера попадает точно в размер своей skip-связи (повышение разрешения: транспонированная свёртка); ни одна skip-связь не обрезается и не дополняется.
"""

from collections import OrderedDict

import torch
from torch import nn

INPUT_SHAPE = (1, 64, 64)
OUTPUT_SHAPE = (2, 64, 64)
FAMILY = "unet"
PARAMETERS = 7762498
MACS = 752222208  # умножений-сложений на пример

# Размер выхода каждой стадии и каждого слоя, меняющего размер, без
# размерности батча. `cnngen verify` ставит хук на каждый и сравнивает.
LAYER_SHAPES = {
    "enc1.conv1": (32, 64, 64),
    "enc1": (32, 64, 64),
    "enc2.pool": (32, 32, 32),
    "enc2.conv1": (64, 32, 32),
    "enc2": (64, 32, 32),
    "enc3.pool": (64, 16, 16),
    "enc3.conv1": (128, 16, 16),
    "enc3": (128, 16, 16),
    "enc4.pool": (128, 8, 8),
    "enc4.conv1": (256, 8, 8),
    "enc4": (256, 8, 8),
    "bottleneck.pool": (256, 4, 4),
    "bottleneck.conv1": (512, 4, 4),
    "bottleneck": (512, 4, 4),
    "up4.conv1": (256, 8, 8),
    "up4": (256, 8, 8),
    "dec4.conv1": (256, 8, 8),
    "dec4": (256, 8, 8),
    "up3.conv1": (128, 16, 16),
    "up3": (128, 16, 16),
    "dec3.conv1": (128, 16, 16),
    "dec3": (128, 16, 16),
    "up2.conv1": (64, 32, 32),
    "up2": (64, 32, 32),
    "dec2.conv1": (64, 32, 32),
    "dec2": (64, 32, 32),
    "up1.conv1": (32, 64, 64),
    "up1": (32, 64, 64),
    "dec1.conv1": (32, 64, 64),
    "dec1": (32, 64, 64),
    "head.conv1": (2, 64, 64),
    "head": (2, 64, 64),
}


@torch.fx.wrap
def check_input(x: torch.Tensor) -> torch.Tensor:
    """Сразу сообщает об ошибке и называет ожидаемый размер, если размер входа другой."""
    if list(x.shape[1:]) != [1, 64, 64]:
        raise ValueError(
            f"ожидался вход размера (B, 1, 64, 64), а получен {list(x.shape)}"
        )
    return x


class UNet(nn.Module):
    """Сеть U-Net для входов размера (B, 1, 64, 64).

    Все размеры точные: размеры в комментариях проверяются запуском
    этого файла (`python FILE`) и командой `cnngen verify FILE`.
    """

    def __init__(self) -> None:
        super().__init__()
        # enc1: (B, 1, 64, 64) -> (B, 32, 64, 64)
        self.enc1 = nn.Sequential(
            OrderedDict(
                # -> (B, 32, 64, 64)
                conv1=nn.Conv2d(1, 32, kernel_size=3, padding=1, bias=False),
                bn1=nn.BatchNorm2d(32),
                act1=nn.ReLU(),
                conv2=nn.Conv2d(32, 32, kernel_size=3, padding=1, bias=False),
                bn2=nn.BatchNorm2d(32),
                act2=nn.ReLU(),
            )
        )
        # enc2: (B, 32, 64, 64) -> (B, 64, 32, 32)
        self.enc2 = nn.Sequential(
            OrderedDict(
                # -> (B, 32, 32, 32)
                pool=nn.MaxPool2d(kernel_size=2),
                # -> (B, 64, 32, 32)
                conv1=nn.Conv2d(32, 64, kernel_size=3, padding=1, bias=False),
                bn1=nn.BatchNorm2d(64),
                act1=nn.ReLU(),
                conv2=nn.Conv2d(64, 64, kernel_size=3, padding=1, bias=False),
                bn2=nn.BatchNorm2d(64),
                act2=nn.ReLU(),
            )
        )
        # enc3: (B, 64, 32, 32) -> (B, 128, 16, 16)
        self.enc3 = nn.Sequential(
            OrderedDict(
                # -> (B, 64, 16, 16)
                pool=nn.MaxPool2d(kernel_size=2),
                # -> (B, 128, 16, 16)
                conv1=nn.Conv2d(64, 128, kernel_size=3, padding=1, bias=False),
                bn1=nn.BatchNorm2d(128),
                act1=nn.ReLU(),
                conv2=nn.Conv2d(128, 128, kernel_size=3, padding=1, bias=False),
                bn2=nn.BatchNorm2d(128),
                act2=nn.ReLU(),
            )
        )
        # enc4: (B, 128, 16, 16) -> (B, 256, 8, 8)
        self.enc4 = nn.Sequential(
            OrderedDict(
                # -> (B, 128, 8, 8)
                pool=nn.MaxPool2d(kernel_size=2),
                # -> (B, 256, 8, 8)
                conv1=nn.Conv2d(128, 256, kernel_size=3, padding=1, bias=False),
                bn1=nn.BatchNorm2d(256),
                act1=nn.ReLU(),
                conv2=nn.Conv2d(256, 256, kernel_size=3, padding=1, bias=False),
                bn2=nn.BatchNorm2d(256),
                act2=nn.ReLU(),
            )
        )
        # bottleneck: (B, 256, 8, 8) -> (B, 512, 4, 4)
        self.bottleneck = nn.Sequential(
            OrderedDict(
                # -> (B, 256, 4, 4)
                pool=nn.MaxPool2d(kernel_size=2),
                # -> (B, 512, 4, 4)
                conv1=nn.Conv2d(256, 512, kernel_size=3, padding=1, bias=False),
                bn1=nn.BatchNorm2d(512),
                act1=nn.ReLU(),
                conv2=nn.Conv2d(512, 512, kernel_size=3, padding=1, bias=False),
                bn2=nn.BatchNorm2d(512),
                act2=nn.ReLU(),
            )
        )
        # up4: (B, 512, 4, 4) -> (B, 256, 8, 8)
        self.up4 = nn.Sequential(
            OrderedDict(
                # -> (B, 256, 8, 8)
                conv1=nn.ConvTranspose2d(512, 256, kernel_size=2, stride=2),
            )
        )
        # dec4: (B, 512, 8, 8) -> (B, 256, 8, 8)
        self.dec4 = nn.Sequential(
            OrderedDict(
                # -> (B, 256, 8, 8)
                conv1=nn.Conv2d(512, 256, kernel_size=3, padding=1, bias=False),
                bn1=nn.BatchNorm2d(256),
                act1=nn.ReLU(),
                conv2=nn.Conv2d(256, 256, kernel_size=3, padding=1, bias=False),
                bn2=nn.BatchNorm2d(256),
                act2=nn.ReLU(),
            )
        )
        # up3: (B, 256, 8, 8) -> (B, 128, 16, 16)
        self.up3 = nn.Sequential(
            OrderedDict(
                # -> (B, 128, 16, 16)
                conv1=nn.ConvTranspose2d(256, 128, kernel_size=2, stride=2),
            )
        )
        # dec3: (B, 256, 16, 16) -> (B, 128, 16, 16)
        self.dec3 = nn.Sequential(
            OrderedDict(
                # -> (B, 128, 16, 16)
                conv1=nn.Conv2d(256, 128, kernel_size=3, padding=1, bias=False),
                bn1=nn.BatchNorm2d(128),
                act1=nn.ReLU(),
                conv2=nn.Conv2d(128, 128, kernel_size=3, padding=1, bias=False),
                bn2=nn.BatchNorm2d(128),
                act2=nn.ReLU(),
            )
        )
        # up2: (B, 128, 16, 16) -> (B, 64, 32, 32)
        self.up2 = nn.Sequential(
            OrderedDict(
                # -> (B, 64, 32, 32)
                conv1=nn.ConvTranspose2d(128, 64, kernel_size=2, stride=2),
            )
        )
        # dec2: (B, 128, 32, 32) -> (B, 64, 32, 32)
        self.dec2 = nn.Sequential(
            OrderedDict(
                # -> (B, 64, 32, 32)
                conv1=nn.Conv2d(128, 64, kernel_size=3, padding=1, bias=False),
                bn1=nn.BatchNorm2d(64),
                act1=nn.ReLU(),
                conv2=nn.Conv2d(64, 64, kernel_size=3, padding=1, bias=False),
                bn2=nn.BatchNorm2d(64),
                act2=nn.ReLU(),
            )
        )
        # up1: (B, 64, 32, 32) -> (B, 32, 64, 64)
        self.up1 = nn.Sequential(
            OrderedDict(
                # -> (B, 32, 64, 64)
                conv1=nn.ConvTranspose2d(64, 32, kernel_size=2, stride=2),
            )
        )
        # dec1: (B, 64, 64, 64) -> (B, 32, 64, 64)
        self.dec1 = nn.Sequential(
            OrderedDict(
                # -> (B, 32, 64, 64)
                conv1=nn.Conv2d(64, 32, kernel_size=3, padding=1, bias=False),
                bn1=nn.BatchNorm2d(32),
                act1=nn.ReLU(),
                conv2=nn.Conv2d(32, 32, kernel_size=3, padding=1, bias=False),
                bn2=nn.BatchNorm2d(32),
                act2=nn.ReLU(),
            )
        )
        # head: (B, 32, 64, 64) -> (B, 2, 64, 64)
        self.head = nn.Sequential(
            OrderedDict(
                # -> (B, 2, 64, 64)
                conv1=nn.Conv2d(32, 2, kernel_size=1),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = check_input(x)
        enc1 = self.enc1(x)  # (B, 32, 64, 64)
        enc2 = self.enc2(enc1)  # (B, 64, 32, 32)
        enc3 = self.enc3(enc2)  # (B, 128, 16, 16)
        enc4 = self.enc4(enc3)  # (B, 256, 8, 8)
        x = self.bottleneck(enc4)  # (B, 512, 4, 4)
        up4 = self.up4(x)  # (B, 256, 8, 8)
        x = torch.cat([enc4, up4], dim=1)  # (B, 512, 8, 8)
        x = self.dec4(x)  # (B, 256, 8, 8)
        up3 = self.up3(x)  # (B, 128, 16, 16)
        x = torch.cat([enc3, up3], dim=1)  # (B, 256, 16, 16)
        x = self.dec3(x)  # (B, 128, 16, 16)
        up2 = self.up2(x)  # (B, 64, 32, 32)
        x = torch.cat([enc2, up2], dim=1)  # (B, 128, 32, 32)
        x = self.dec2(x)  # (B, 64, 32, 32)
        up1 = self.up1(x)  # (B, 32, 64, 64)
        x = torch.cat([enc1, up1], dim=1)  # (B, 64, 64, 64)
        x = self.dec1(x)  # (B, 32, 64, 64)
        x = self.head(x)  # (B, 2, 64, 64)
        return x


if __name__ == "__main__":
    torch.manual_seed(0)
    model = UNet()
    batch = torch.randn(2, *INPUT_SHAPE)
    output = model(batch)
    assert tuple(output.shape) == (2, *OUTPUT_SHAPE), tuple(output.shape)
    parameters = sum(p.numel() for p in model.parameters())
    assert parameters == PARAMETERS, parameters
    print(
        f"UNet: {tuple(batch.shape)} -> {tuple(output.shape)}, параметров: {parameters}"
    )
