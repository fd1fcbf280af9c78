"""torch-only reproducer: channels-last 1x1 stride-2 conv weight gradient on CPU.

Seen with torch 2.13.0+cpu (oneDNN v3.12.0, AVX2 machine).  The weight gradient
of a 1x1 convolution with stride 2 over a channels-last input runs in oneDNN's
``jit_avx2_1x1_convolution_bwd_weights_t`` and writes outside its buffers:

    python docs/channels_last_cpu_repro.py 1      # dies: SIGSEGV, or glibc aborts with
                                                  # "free(): invalid next size", "munmap_chunk():
                                                  # invalid pointer", "double free or corruption"
    python docs/channels_last_cpu_repro.py 2      # wrong weight gradients (17-95% of iterations)
    python docs/channels_last_cpu_repro.py 1 off  # torch.backends.mkldnn off: correct

What triggers it (each case checked with ``LD_PRELOAD=libc_malloc_debug.so.0
GLIBC_TUNABLES=glibc.malloc.check=3``): a 1x1 kernel with stride 2 or 4 (not 1, nor
3 on 8x8, nor a 3x3 kernel); a channels-last input (the layouts of the weight and of
the output gradient do not matter); batch 2 or more; 2 to 6 input channels
(not 7, 8, 16 or 64 with one thread; 1 sometimes gives wrong ones with two);
even height and width of 8 or more (6x6, 4x4, 9x9 and 8x9 are fine).  The 3D
counterpart (1x1x1, stride 2, channels_last_3d) was fine in the same checks.

A residual block's ``downsample`` shortcut is exactly this convolution, so
``train.py --channels-last`` of a residual classifier with few channels (e.g.
``cnngen project p --family classifier --block residual --start-channels 4``)
crashed on CPU, or hung in that oneDNN kernel with two threads.  Generated
training scripts apply channels-last on CUDA only.
"""

from __future__ import annotations

import sys

import torch


def weight_grad(x: torch.Tensor, w: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """d(loss)/d(weight) of ``conv2d(x, w, stride=2)`` given the output gradient ``g``."""
    return torch.ops.aten.convolution_backward(
        g, x, w, None, (2, 2), (0, 0), (1, 1), False, (0, 0), 1, (False, True, False)
    )[1]


def main() -> None:
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    torch.backends.mkldnn.enabled = not (len(sys.argv) > 2 and sys.argv[2] == "off")
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.randn(5, 3, 8, 8)  # batch 5, 3 input channels, 8x8
    w = torch.randn(6, 3, 1, 1)
    g = torch.randn(5, 6, 4, 4)
    reference = weight_grad(x, w, g)  # contiguous (NCHW): correct
    x_cl = x.contiguous(memory_format=torch.channels_last)
    iterations, wrong = 200, 0
    for _ in range(iterations):
        result = weight_grad(x_cl, w, g)
        wrong += not torch.allclose(result, reference, rtol=1e-4, atol=1e-4)
    print(
        f"torch {torch.__version__}, {threads} thread(s), mkldnn "
        f"{torch.backends.mkldnn.enabled}: {wrong}/{iterations} channels-last weight "
        "gradients differ from the contiguous one",
        flush=True,
    )


if __name__ == "__main__":
    main()
