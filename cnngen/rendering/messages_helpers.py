"""Docstrings and comments of the helper classes a model file may carry.

:mod:`cnngen.rendering.messages` merges them into the catalogue.  Each
``helper.<Name>`` entry is a docstring (summary, blank line, body), which the
template indents; ``helper.<Name>.<what>`` entries are comments, ``#`` included.
Names a student types (``torch.rot90``, ``nn.Identity``) stay as torch spells them.
"""

from __future__ import annotations

HELPERS_EN: dict[str, str] = {
    "model.check_input": "Fail early, naming the expected shape, on input of another shape.",
    "model.macs_comment": "# multiply-accumulates per sample",
    "helper.ChannelNorm": (
        "LayerNorm over the channels at each position, for (B, C, ...) inputs of any rank.\n"
        "\n"
        "``nn.LayerNorm`` normalizes the last dimension, and ConvNeXt normalizes\n"
        "the channels, so they are moved last and back.  The weights are\n"
        "``nn.LayerNorm``'s, named as in torchvision's ``LayerNorm2d``."
    ),
    "helper.ChannelNorm.script": (
        "# nn.functional rather than super().forward, which TorchScript cannot compile."
    ),
    "helper.LayerScale": (
        "A learned scale per channel (ConvNeXt's layer scale), starting at ``init``.\n"
        "\n"
        "Starting near zero makes each residual block begin close to the identity,\n"
        "which lets deep stacks of blocks train from the first step."
    ),
    "helper.Crop": (
        "Keep ``size`` positions of each spatial dimension, starting at ``start``.\n"
        "\n"
        "A decoder uses it to remove exactly the positions an uneven pad added."
    ),
    "helper.FoldOrientations": (
        "Stack each channel's four orientations along the height: (B, C * 4, H, W) -> "
        "(B, C, 4 * H, W).\n"
        "\n"
        "A 2D norm or dropout over the C channels then shares its statistics (and\n"
        "its dropped channels) across the four orientations, as equivariance needs."
    ),
    "helper.UnfoldOrientations": (
        "Undo FoldOrientations: (B, C, 4 * H, W) -> (B, C * 4, H, W).\n"
        "\n"
        "Both are reshapes of the same memory, so nothing is copied."
    ),
    "helper.FoldOrientations.d4": (
        "Stack each channel's eight orientations along the height: (B, C * 8, H, W) -> "
        "(B, C, 8 * H, W).\n"
        "\n"
        "A 2D norm or dropout over the C channels then shares its statistics (and\n"
        "its dropped channels) across the eight orientations, as equivariance needs."
    ),
    "helper.UnfoldOrientations.d4": (
        "Undo FoldOrientations: (B, C, 8 * H, W) -> (B, C * 8, H, W).\n"
        "\n"
        "Both are reshapes of the same memory, so nothing is copied."
    ),
    "helper.GroupPool.d4": (
        "Maximum over the orientations: (B, C * 8, H, W) -> (B, C, H, W).\n"
        "\n"
        "Turning or mirroring the input permutes the orientations and moves the\n"
        "maps; the maximum over orientations removes the permutation, leaving\n"
        "maps that turn and mirror with the input."
    ),
    "helper.OrientationStack.d4": (
        "Undo each orientation's turns and mirror, and stack them: (B, C * 8, H, W) -> "
        "(8B, C, H, W).\n"
        "\n"
        "Orientation g = 4 * m + r is r quarter turns after m mirror images.  Turning\n"
        "or mirroring the input moves every map and permutes the orientations; once\n"
        "each is turned and mirrored back, the input's symmetry only permutes the\n"
        "eight copies, which the pooling over them at the end removes."
    ),
    "helper.OrientationStack.mirror": "# Then undo the mirror image (a flip of the width).",
    "helper.RotationMax.d4": (
        "Keep each logit's maximum over the copies: (copies * B, F) -> (B, F).\n"
        "\n"
        "The maximum of a permuted set is the same set's maximum, so the result does\n"
        "not change when the input is turned or mirrored.  Each class scores the\n"
        "orientation that looks most like it."
    ),
    "helper.DihedralLiftingConv2d": (
        "Lift an image to the group D4 of the square: (B, C, H, W) -> (B, O * 8, H, W).\n"
        "\n"
        "Output channel o * 8 + g is the correlation with kernel o transformed by\n"
        "group element g = 4 * m + r: mirrored (a flip of the width) m times, then\n"
        "turned r quarter turns.  Transforming the input by an element h transforms\n"
        "every output map by h and moves orientation g to h * g."
    ),
    "helper.DihedralLiftingConv2d.turn": (
        "# Element g: mirror the kernel if g >= 4, then turn it g % 4 quarter turns."
    ),
    "helper.DihedralGroupConv2d": (
        "A D4 group convolution: (B, C * 8, H, W) -> (B, O * 8, H, W).\n"
        "\n"
        "Channel c * 8 + g holds orientation g = 4 * m + r of channel c (m mirror\n"
        "images, then r quarter turns).  Output orientation g sums, over input\n"
        "orientations s, the correlation of input map s with the kernel of relative\n"
        "orientation g^-1 * s transformed by g.  Transforming the input by h (its maps\n"
        "move, orientation s goes to h * s) transforms every output map by h and\n"
        "moves output orientation g to h * g.  One 2D convolution computes it all."
    ),
    "helper.DihedralGroupConv2d.order": (
        "# orders[g][s]: the relative orientation g^-1 * s (D4's multiplication table)."
    ),
    "helper.DihedralGroupConv2d.turn": (
        "# Then transform the kernel by g: mirror if g >= 4, turn g % 4 quarter turns."
    ),
    "helper.GroupConv2d": (
        "A p4 group convolution: (B, C * 4, H, W) -> (B, O * 4, H, W).\n"
        "\n"
        "Channel c * 4 + r holds orientation r of channel c.  Output orientation r\n"
        "sums, over input orientations s, the correlation of input map s with the\n"
        "kernel of relative orientation s - r turned r times: the kernels turn and\n"
        "their orientation axis shifts cyclically.  Rotating the input (its maps\n"
        "turn, its orientations shift by one) rotates every output map and shifts\n"
        "the output orientations by one.  One 2D convolution computes it all."
    ),
    "helper.GroupConv2d.turn": (
        "# Shift the orientation axis by one, then turn the kernel a quarter."
    ),
    "helper.GroupPool": (
        "Maximum over the orientations: (B, C * 4, H, W) -> (B, C, H, W).\n"
        "\n"
        "Rotating the input shifts the orientations and turns the maps; the\n"
        "maximum over orientations removes the shift, leaving maps that turn."
    ),
    "helper.HarmonicBasis": (
        "Kernels as sums of waves around the rings of the k x k grid.\n"
        "\n"
        "Ring r holds the taps r steps from the centre (in the larger of the two\n"
        "directions); it carries cos(m * angle) and sin(m * angle) for m = 0 ..\n"
        "max(2, r), each wave scaled to length 1.  A layer learns one weight per\n"
        "wave (6 at k = 3, 11 at 5, 18 at 7) instead of one per tap, and ``forward``\n"
        "sums the waves into kernels.  A quarter turn or a mirror image maps every\n"
        "ring onto itself, so the waves span the same kernels in every orientation."
    ),
    "helper.HarmonicBasis.weights": (
        "# One weight per wave of the basis; forward sums them into k x k kernels."
    ),
    "helper.Inception": (
        "Parallel branches over the same input, concatenated along channels.\n"
        "\n"
        "The Inception module of GoogLeNet (Szegedy et al., 2015): each branch\n"
        "looks at the input through a different window (1x1, 3x3, a wider branch\n"
        "that is 5x5 in the paper and 3x3 in torchvision, pooling) and keeps the\n"
        "input's spatial size, so the outputs stack as channels."
    ),
    "helper.LiftingConv2d": (
        "Lift an image to the rotation group p4: (B, C, H, W) -> (B, O * 4, H, W).\n"
        "\n"
        "Each kernel is applied in its four quarter turns; output channel o * 4 + r\n"
        "(orientation r of channel o) is the correlation with kernel o turned r\n"
        "times.  Rotating the input by a quarter turn rotates every output map and\n"
        "shifts the orientations by one."
    ),
    "helper.LiftingConv2d.turn": (
        "# A quarter turn (as torch.rot90) written as flip + transpose for ONNX."
    ),
    "helper.OrientationStack": (
        "Turn each orientation's maps back and stack them: (B, C * 4, H, W) -> (4B, C, H, W).\n"
        "\n"
        "Rotating the input turns every map and shifts the orientations by one;\n"
        "after orientation r is turned back r quarter turns, it only permutes the\n"
        "four copies, which the pooling over rotations at the end removes."
    ),
    "helper.OrientationStack.turn": ("# A quarter turn back (as torch.rot90 with k=-1) for ONNX."),
    "helper.Residual": (
        "A residual block: ``act(layers(x) + downsample(x))``.\n"
        "\n"
        "The main path's layers are attributes of the block, named as in\n"
        "torchvision (``conv1``, ``bn1``, ...), and run in the order of ``LAYERS``;\n"
        "a block without one of them gets an ``nn.Identity`` in its place.\n"
        "``downsample`` matches channels and stride where the shapes differ."
    ),
    "helper.RotationMax": (
        "Keep each logit's maximum over the four rotations: (4B, F) -> (B, F).\n"
        "\n"
        "The maximum of a permuted set is the same set's maximum, so the result does\n"
        "not change when the input is rotated by any multiple of 90 degrees.  Each\n"
        "class scores the orientation that looks most like it; a mean would blur\n"
        "that score with three weaker ones."
    ),
    "helper.RotationMean": (
        "Average the logits of the four rotations: (4B, F) -> (B, F).\n"
        "\n"
        "The mean of a permuted set is the same set's mean, so the result does not\n"
        "change when the input is rotated by any multiple of 90 degrees."
    ),
    "helper.RotationStack": (
        "Stack the four quarter turns of the input along the batch: (B, ...) -> (4B, ...).\n"
        "\n"
        "The same weights then see every rotation; rotating the input only permutes\n"
        "the four copies, which the pooling over rotations removes."
    ),
    "helper.RotationStack.turn": (
        "# One quarter turn (as torch.rot90) written as flip + transpose, which\n"
        "# ONNX export supports."
    ),
    "helper.SqueezeExcite": (
        "Squeeze-and-excitation (Hu et al., 2018): rescale channels by global context.\n"
        "\n"
        "The feature map is averaged to one value per channel, passed through a\n"
        "small bottleneck, and the sigmoid of the result scales each channel."
    ),
}

HELPERS_RU: dict[str, str] = {
    "model.check_input": (
        "Сразу сообщает об ошибке и называет ожидаемый размер, если размер входа другой."
    ),
    "model.macs_comment": "# умножений-сложений на пример",
    "helper.ChannelNorm": (
        "LayerNorm по каналам в каждой позиции, для входов (B, C, ...) любой размерности.\n"
        "\n"
        "``nn.LayerNorm`` нормирует последнее измерение, а ConvNeXt нормирует\n"
        "каналы, поэтому они переставляются в конец и обратно.  Веса те же, что у\n"
        "``nn.LayerNorm``, и названы, как в ``LayerNorm2d`` из torchvision."
    ),
    "helper.ChannelNorm.script": (
        "# nn.functional вместо super().forward: его TorchScript скомпилировать не может."
    ),
    "helper.LayerScale": (
        "Обучаемый множитель для каждого канала (layer scale из ConvNeXt), вначале ``init``.\n"
        "\n"
        "Множитель, близкий к нулю, делает каждый остаточный блок в начале почти\n"
        "тождественным, и глубокий стек блоков учится с первого шага."
    ),
    "helper.Crop": (
        "Оставляет ``size`` позиций каждого пространственного измерения, начиная с ``start``.\n"
        "\n"
        "Декодер убирает им ровно те позиции, которые добавил несимметричный паддинг."
    ),
    "helper.FoldOrientations": (
        "Складывает четыре ориентации каждого канала по высоте: (B, C * 4, H, W) -> "
        "(B, C, 4 * H, W).\n"
        "\n"
        "Тогда двумерная нормализация или dropout по C каналам берёт общую\n"
        "статистику (и общие выключенные каналы) для всех четырёх ориентаций,\n"
        "как того требует эквивариантность."
    ),
    "helper.UnfoldOrientations": (
        "Обращает FoldOrientations: (B, C, 4 * H, W) -> (B, C * 4, H, W).\n"
        "\n"
        "Оба — перестановки формы той же памяти, ничего не копируется."
    ),
    "helper.FoldOrientations.d4": (
        "Складывает восемь ориентаций каждого канала по высоте: (B, C * 8, H, W) -> "
        "(B, C, 8 * H, W).\n"
        "\n"
        "Тогда двумерная нормализация или dropout по C каналам берёт общую\n"
        "статистику (и общие выключенные каналы) для всех восьми ориентаций,\n"
        "как того требует эквивариантность."
    ),
    "helper.UnfoldOrientations.d4": (
        "Обращает FoldOrientations: (B, C, 8 * H, W) -> (B, C * 8, H, W).\n"
        "\n"
        "Оба — перестановки формы той же памяти, ничего не копируется."
    ),
    "helper.GroupPool.d4": (
        "Максимум по ориентациям: (B, C * 8, H, W) -> (B, C, H, W).\n"
        "\n"
        "Поворот или отражение входа переставляет ориентации и двигает карты;\n"
        "максимум по ориентациям убирает перестановку, и остаются карты, которые\n"
        "поворачиваются и отражаются вместе со входом."
    ),
    "helper.OrientationStack.d4": (
        "Отменяет повороты и отражение каждой ориентации и складывает их вдоль батча:\n"
        "(B, C * 8, H, W) -> (8B, C, H, W).\n"
        "\n"
        "Ориентация g = 4 * m + r — это r четвертей оборота после m отражений.\n"
        "Поворот или отражение входа двигает каждую карту и переставляет ориентации;\n"
        "когда каждая возвращена обратно, симметрия входа лишь переставляет восемь\n"
        "копий, а пулинг по ним в конце убирает эту перестановку."
    ),
    "helper.OrientationStack.mirror": "# Затем отменить отражение (flip по ширине).",
    "helper.RotationMax.d4": (
        "Оставляет максимум каждого логита по копиям: (copies * B, F) -> (B, F).\n"
        "\n"
        "Максимум переставленного набора равен максимуму того же набора, поэтому\n"
        "результат не меняется при повороте или отражении входа.  Каждый класс\n"
        "получает оценку ориентации, которая больше всего на него похожа."
    ),
    "helper.DihedralLiftingConv2d": (
        "Поднимает изображение на группу D4 квадрата: (B, C, H, W) -> (B, O * 8, H, W).\n"
        "\n"
        "Канал выхода o * 8 + g — корреляция с ядром o, преобразованным элементом\n"
        "группы g = 4 * m + r: отражённым (flip по ширине) m раз, затем повёрнутым\n"
        "на r четвертей оборота.  Преобразование входа элементом h преобразует\n"
        "каждую карту выхода тем же h и переводит ориентацию g в h * g."
    ),
    "helper.DihedralLiftingConv2d.turn": (
        "# Элемент g: отразить ядро, если g >= 4, затем повернуть на g % 4 четвертей."
    ),
    "helper.DihedralGroupConv2d": (
        "Групповая свёртка D4: (B, C * 8, H, W) -> (B, O * 8, H, W).\n"
        "\n"
        "Канал c * 8 + g хранит ориентацию g = 4 * m + r канала c (m отражений, затем\n"
        "r четвертей оборота).  Ориентация выхода g — сумма по ориентациям входа s\n"
        "корреляций карты входа s с ядром относительной ориентации g^-1 * s,\n"
        "преобразованным элементом g.  Преобразование входа элементом h (карты\n"
        "двигаются, ориентация s переходит в h * s) преобразует каждую карту выхода\n"
        "тем же h и переводит ориентацию выхода g в h * g.  Всё считает одна\n"
        "двумерная свёртка."
    ),
    "helper.DihedralGroupConv2d.order": (
        "# orders[g][s]: относительная ориентация g^-1 * s (таблица умножения D4)."
    ),
    "helper.DihedralGroupConv2d.turn": (
        "# Затем преобразовать ядро элементом g: отразить, если g >= 4, повернуть на g % 4."
    ),
    "helper.GroupConv2d": (
        "Групповая свёртка p4: (B, C * 4, H, W) -> (B, O * 4, H, W).\n"
        "\n"
        "Канал c * 4 + r хранит ориентацию r канала c.  Ориентация выхода r —\n"
        "сумма по ориентациям входа s корреляций карты входа s с ядром\n"
        "относительной ориентации s - r, повёрнутым r раз: ядра поворачиваются,\n"
        "а их ось ориентаций циклически сдвигается.  Поворот входа (его карты\n"
        "поворачиваются, ориентации сдвигаются на одну) поворачивает каждую карту\n"
        "выхода и сдвигает ориентации выхода на одну.  Всё считает одна двумерная свёртка."
    ),
    "helper.GroupConv2d.turn": (
        "# Сдвинуть ось ориентаций на одну, затем повернуть ядро на четверть оборота."
    ),
    "helper.GroupPool": (
        "Максимум по ориентациям: (B, C * 4, H, W) -> (B, C, H, W).\n"
        "\n"
        "Поворот входа сдвигает ориентации и поворачивает карты; максимум по\n"
        "ориентациям убирает сдвиг, и остаются карты, которые просто поворачиваются."
    ),
    "helper.HarmonicBasis": (
        "Ядра как суммы волн, бегущих по кольцам сетки k x k.\n"
        "\n"
        "Кольцо r — это отсчёты ядра, отстоящие от центра на r шагов (по большему\n"
        "из двух направлений); на нём лежат cos(m * угол) и sin(m * угол) для\n"
        "m = 0 .. max(2, r), и каждая волна нормирована на длину 1.  Слой учит по\n"
        "одному весу на волну (6 при k = 3, 11 при 5, 18 при 7), а не на отсчёт, и\n"
        "``forward`` складывает волны в ядра.  Поворот на четверть оборота и\n"
        "отражение переводят каждое кольцо в себя, поэтому волны дают одни и те же\n"
        "ядра в любой ориентации."
    ),
    "helper.HarmonicBasis.weights": (
        "# По одному весу на волну базиса; forward складывает их в ядра k x k."
    ),
    "helper.Inception": (
        "Параллельные ветви над одним и тем же входом, склеенные по каналам.\n"
        "\n"
        "Модуль Inception из GoogLeNet (Szegedy и др., 2015): каждая ветвь смотрит\n"
        "на вход через своё окно (1x1, 3x3, широкая ветвь — 5x5 в статье и 3x3\n"
        "в torchvision, пулинг) и сохраняет пространственный размер входа, поэтому\n"
        "выходы ветвей складываются как каналы."
    ),
    "helper.LiftingConv2d": (
        "Поднимает изображение на группу поворотов p4: (B, C, H, W) -> (B, O * 4, H, W).\n"
        "\n"
        "Каждое ядро применяется в четырёх поворотах на четверть оборота; ориентация\n"
        "выхода r — корреляция с ядром, повёрнутым r раз.  Поворот входа на четверть\n"
        "оборота поворачивает каждую карту выхода и сдвигает ориентации на одну."
    ),
    "helper.LiftingConv2d.turn": (
        "# Поворот на четверть оборота (как torch.rot90) через flip + transpose ради ONNX."
    ),
    "helper.OrientationStack": (
        "Поворачивает карты каждой ориентации обратно и складывает их вдоль батча:\n"
        "(B, C * 4, H, W) -> (4B, C, H, W).\n"
        "\n"
        "Поворот входа поворачивает каждую карту и сдвигает ориентации на одну;\n"
        "после того как ориентация r повёрнута обратно на r четвертей оборота, он\n"
        "лишь переставляет четыре копии, а пулинг по поворотам в конце убирает\n"
        "эту перестановку."
    ),
    "helper.OrientationStack.turn": (
        "# Поворот на четверть оборота назад (как torch.rot90 с k=-1) ради ONNX."
    ),
    "helper.Residual": (
        "Остаточный блок: ``act(layers(x) + downsample(x))``.\n"
        "\n"
        "Слои основного пути — атрибуты блока с именами как в torchvision\n"
        "(``conv1``, ``bn1``, ...); они выполняются в порядке ``LAYERS``, а на месте\n"
        "слоя, которого в блоке нет, стоит ``nn.Identity``.  ``downsample``\n"
        "согласует число каналов и шаг там, где размеры различаются."
    ),
    "helper.RotationMax": (
        "Оставляет максимум каждого логита по четырём поворотам: (4B, F) -> (B, F).\n"
        "\n"
        "Максимум переставленного набора равен максимуму исходного, поэтому\n"
        "результат не меняется при повороте входа на любое кратное 90 градусов.\n"
        "Каждый класс получает оценку той ориентации, которая больше всего на него\n"
        "похожа; среднее размыло бы эту оценку тремя более слабыми."
    ),
    "helper.RotationMean": (
        "Усредняет логиты четырёх поворотов: (4B, F) -> (B, F).\n"
        "\n"
        "Среднее переставленного набора равно среднему исходного, поэтому результат\n"
        "не меняется при повороте входа на любое кратное 90 градусов."
    ),
    "helper.RotationStack": (
        "Складывает четыре поворота входа на четверть оборота вдоль батча:\n"
        "(B, ...) -> (4B, ...).\n"
        "\n"
        "Так одни и те же веса видят каждый поворот; поворот входа лишь переставляет\n"
        "четыре копии, а пулинг по поворотам убирает эту перестановку."
    ),
    "helper.RotationStack.turn": (
        "# Поворот на четверть оборота (как torch.rot90) через flip + transpose:\n"
        "# в таком виде его поддерживает экспорт в ONNX."
    ),
    "helper.SqueezeExcite": (
        "Squeeze-and-excitation (Hu и др., 2018): перевзвешивает каналы по всей карте.\n"
        "\n"
        "Карта признаков усредняется до одного значения на канал, проходит через\n"
        "небольшое узкое место (bottleneck), и сигмоида результата масштабирует\n"
        "каждый канал."
    ),
}
