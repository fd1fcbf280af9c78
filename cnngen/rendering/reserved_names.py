"""Names the generated files use, per kind: derived by cnngen.rendering.namespace.

Written by ``python examples/regenerate.py``; do not edit by hand.  A test
fails while this is stale, and cnngen derives the names again meanwhile.
"""

FINGERPRINT = "3cc5853e5fef84838b1adcb1aecd085e5c3de64b1e7e585b4bf2a51be446c3aa"

NAMES = {
    "model": """
        BRANCHES ChannelNorm Crop DihedralGroupConv2d DihedralLiftingConv2d FAMILY
        FoldOrientations GroupConv2d GroupPool HarmonicBasis INPUT_SHAPE Inception LAYERS
        LAYER_SHAPES LayerScale LiftingConv2d MACS OUTPUT_SHAPE OrderedDict OrientationStack
        PARAMETERS Residual RotationMax RotationMean RotationStack SqueezeExcite
        TRAINING_OUTPUT_SHAPES UnfoldOrientations ValueError _ __init__ __name__ act angles aux1
        aux2 batch bias bool bound branches channels check_input context copies dim downsample dx
        dy enc1 enc2 enumerate extra extras float forward g head2 height in_channels init int
        kernel_size layers len list m maps max model name nn offsets on_ring out out_channels
        output p padding parameters print r range reduced ring rings s scale self shape shapes
        size start sum super torch tuple turns up1 up2 w waves weight width x zip
    """,
    "train": """
        BATCH_SIZE BINARY BaseException CHECKPOINT_FORMAT CLASSES CNNGEN_COMMAND CNNGEN_VERSION
        Callable CheckedDataset DataLoader Dataset DistributedDataParallel DistributedSampler
        EPOCHS EXPORT_TOLERANCE EXTRA_STEPS EXTRA_WEIGHTS Exception INPUT_SHAPE ImportError
        IndexError KeyError KeyboardInterrupt LOADER_ERRORS LR MAX_BATCH METRICS
        ModuleNotFoundError ONNX_OPSET ONNX_OUTPUT OSError OUT OUTPUT_SHAPE Path Progress
        RUN_STATE Run RuntimeError SCHEDULER SCHEDULERS SEED Subset TASK TrainingError TypeError
        ValueError __doc__ __getitem__ __init__ __len__ __name__ a abs accuracy actual add
        add_schedule_arguments all all_rng_states amp_dtype argparse args argv axes b backend
        batch best binary_loss bool buffer bytes channels check_label check_loss
        check_schedule_arguments check_writable checked checkpoint choose_device class_names
        classes classification_metrics close color column columns confusion contextlib contract
        count csv cuda data data_contract dataclass dataset device dice dict difference
        differences dims dist doc drops enabled entry enumerate epoch epochs error evaluate every
        example expected export_model export_program export_to exporter extra extras f1 figure
        files fit flag float folder forward found fraction functools generator getattr got graph
        grid guess hasattr head held here high hint hits i ids image import_pyplot importlib
        improved index init_distributed inputs int io iou isinstance itertools json k key kind
        label layout len limit line lines list load_splits load_torch_file load_weights loader
        local_rank log logging logits loss loss_function low lr main make_checkpoint make_datasets
        make_scheduler map matplotlib matrix max max_batch max_difference memory_format message
        metadata metrics milestones min model move mse name name_onnx names network nn node now o
        obj object objects one_line onnx onnx_bytes onnx_metadata onnx_opset onnx_program
        onnxruntime open opset optimizer options os out output_name outputs overlap pairs
        parameter parity parse_args parser part path pickle picture plot_confusion plot_gallery
        plot_history plt precision predicted prediction prefix present previous print probe
        program ramp random range rank rate reason record reduction reloaded renames
        report_classification resume rng rng_state round row rows run run_onnx s sample sampled
        sampler samples save_epoch save_staged scaler scored scores seconds seed seed_everything
        segmentation_metrics self session show shown shuffle shutil side size slice sorted speed
        split splits staged staging started state state_dict states step steps stopped str stream
        sum summary sums sys table temporary tensor test text there threshold time title todo
        torch total total_steps totals tqdm train train_epoch train_loader trained training_loss
        truth tuple type v val value values vars versions warmup warnings weight where width world
        worst write write_staged writer written x y zip
    """,
    "finetune": """
        BATCH_SIZE BaseException Callable CheckedDataset DataLoader Dataset EPOCHS Exception
        FREEZE HEAD INPUT_SHAPE ImportError IndexError KeyError KeyboardInterrupt LOADER_ERRORS LR
        METRICS ModuleNotFoundError OSError OUT Path Progress RepeatChannels RuntimeError
        SCHEDULER SCHEDULERS SEED SystemExit TrainingError TypeError ValueError WEIGHTS _
        __getitem__ __init__ __len__ __name__ abs actual add_schedule_arguments all any argparse
        args argv axes best_epoch best_loss bool buffer check_label check_loss
        check_schedule_arguments check_writable checked child choose_device class_names classes
        classification_metrics close color column columns confusion count count_classes csv
        dataset device dict drops enabled enumerate epoch error evaluate every everything expected
        f1 figure filter find_head fit flag float folder found fraction freeze frozen generator
        getattr got grid guess hasattr head here high hits i image import_pyplot in_head index int
        io isinstance json key known label label_check len line linears lines list load_splits
        load_torch_file load_weights loader log logits loss loss_sum low main make_datasets
        make_scheduler map matched matplotlib matrix max metrics milestones min model module
        modules n name names new nn now obj object old one_line open optimizer os out p pairs
        parameter parameters parent parent_name parse_args parser part path pickle picture
        plot_confusion plot_gallery plt predicted prefix prefixes present print probe progress
        ramp random range rate reason replace_head report_classification round row rows s sample
        samples save_staged scheduler seconds seed seed_everything self setattr show_progress
        shown side sorted split splits staged started state step steps stopped str stream summary
        sys temporary test test_metrics text there threshold time title todo tops torch total
        total_steps tqdm train train_loader train_mode trainable truth tuple type val val_loader
        value warmup weights where width write write_history write_staged writer written x y zip
    """,
    "dataset_windows": """
        ADDITIONAL_PATHS BINARIZE_X Callable DATA_PATH Dataset DatasetError EOFError FORECAST
        IndexError Iterator OSError PRE_HISTORY Path SINGLE_OUTPUT STACK Sequence THRESHOLD
        VAL_FRACTION ValueError __getitem__ __init__ __len__ __name__ _as_frames _check_length
        _frames a additional archive bad binarize_x bool channels contextmanager count data
        dataset enumerate error finite flat flatten_channels float forecast frames head i index
        int isinstance len load_frames main make_datasets max name np object part path pre_history
        print problem range reading reason round run s seed self series series_first shown
        single_output source split start stop str sys text threshold torch train tuple val value
        where window x y zipfile zlib
    """,
    "dataset_arrays": """
        Callable DATA_PATH Dataset DatasetError EOFError Iterator LAYOUT LAYOUTS OSError
        VAL_FRACTION ValueError X_KEY X_PATH Y_KEY Y_PATH __getitem__ __init__ __len__ __name__
        archive array_names block bool channel_stats channels channels_first check_arrays chunk
        classes contextmanager count error finite float held_out images index indices int
        isinstance key label labels layout len load_arrays loaded main make_datasets max mean min
        name names np object odd order path print problem range reading reason resolve_layout rng
        round row run sample seed self shape shown spatial split_indices squares start std str sys
        targets text torch total train train_rows tuple val val_fraction val_rows where x y
        zipfile zlib
    """,
    "dataset_synthetic": """
        BINARIZE_X CHANNELS CLUTTER Dataset Ellipsis FORECAST FRAMES IndexError NOISE PERIOD
        PRE_HISTORY ROTATE SAMPLES SCALE SHAPES SHIFT SINGLE_OUTPUT SIZE SQUARE Sequence
        TEST_FRACTION THRESHOLD TensorDataset VAL_FRACTION ValueError _ __getitem__ __init__
        __len__ __name__ _as_frames _check_length _frames across additional along angle binarize_x
        bool bounds box brightness c centre channels clutter count counts d data disc draw
        enumerate flatten_channels float forecast frames grid grids held_out images index int
        isinstance label labels len length list make_datasets make_shapes mask masks max min
        moving_square name noise np object offset offsets part period plane pre_history print
        profiles radius range rng round s samples scale seed self series series_first shape side
        single_output size slice source split splits square start starts stop str strength stroke
        strokes t test tested threshold torch train tuple u v val value video window x y zip
    """,
}

MODULES = {
    "model": """
        collections torch
    """,
    "train": """
        argparse collections contextlib csv dataclasses functools importlib io itertools json
        logging matplotlib onnx onnxruntime os pathlib pickle random shutil sys time torch tqdm
        warnings
    """,
    "finetune": """
        argparse collections csv io json matplotlib os pathlib pickle random sys time torch tqdm
    """,
    "dataset_windows": """
        collections contextlib numpy pathlib sys torch zipfile zlib
    """,
    "dataset_arrays": """
        collections contextlib numpy sys torch zipfile zlib
    """,
    "dataset_synthetic": """
        collections numpy torch
    """,
}
