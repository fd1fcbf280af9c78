"""Names the generated files use, per kind: derived by cnngen.rendering.namespace.

Written by ``python examples/regenerate.py``; do not edit by hand.  A test
fails while this is stale, and cnngen derives the names again meanwhile.
"""

FINGERPRINT = "e26311ffb665f14d4c63b494a1c1a6893620f84c6f2b10e23fd8575d8de7ca8e"

NAMES = {
    "model": """
        BRANCHES Crop FAMILY GroupConv2d GroupPool INPUT_SHAPE Inception LAYERS LAYER_SHAPES
        LiftingConv2d MACS OUTPUT_SHAPE OrderedDict OrientationStack PARAMETERS Residual
        RotationMax RotationMean RotationStack SqueezeExcite ValueError _ __init__ __name__ act
        batch bias bool bound branches channels check_input context copies dim downsample enc1
        enc2 enumerate forward in_channels int kernel_size layers list maps model name nn out
        out_channels output p padding parameters print r range reduced scale self size start sum
        super torch tuple turns up1 up2 w weight x zip
    """,
    "train": """
        BATCH_SIZE BINARY CHECKPOINT_FORMAT CLASSES CNNGEN_COMMAND CNNGEN_VERSION Callable
        DataLoader Dataset DistributedDataParallel DistributedSampler EPOCHS EXPORT_TOLERANCE
        INPUT_SHAPE ImportError LR METRICS ONNX_OPSET OUT OUTPUT_SHAPE Path Progress SCHEDULER
        SCHEDULERS SEED Subset SystemExit TASK ValueError _ __init__ __name__ a actual
        add_deploy_arguments add_schedule_arguments all all_rng_states all_sum amp_dtype argparse
        args argv axes b backend batch batch_dim best_epoch best_loss best_state bool
        cached_gaussian check_dataset check_schedule_arguments checkpoint choose_device
        class_names classes classification_metrics close color column columns confusion count csv
        dataset denominator device device_ids dice dict difference differences dist drops enabled
        entry enumerate epoch epoch_steps epochs error evaluate evaluate_test every expected
        export_model export_onnx exporter f1 figure float fraction fresh_run_state gauss generator
        getattr grid guess has_gauss hasattr high image import_pyplot importlib improved index
        init_distributed inputs int internal iou isinstance json keep_state key keys kind label
        labels len limit line list load_checkpoint loader local_rank log logits loss low main
        make_checkpoint make_datasets make_loaders make_scheduler matplotlib matrix max
        max_difference memory_format message metrics milestones min model move mps mse name names
        network nn now np numpy_state obj onnx onnx_parity onnxruntime open opset optimizer os out
        output overlap p parity parse_args parser part path picture pin pixel_classes pixel_loss
        plot_confusion plot_gallery plot_history plotted plt position predicted prediction prefix
        present print program progress ramp random range rank rate record reduction reloaded
        report_classification resume rng_state round row rows run_state sample sampler samples
        save_checkpoint scaler scheduler seconds seed seed_everything segmentation_metrics self
        session set_rng_state show_progress shown side sorted split split_datasets splits started
        state state_dict states step steps steps_left str stream sum summary sums sys temporary
        tensor test test_metrics threshold time title torch total total_steps totals tqdm train
        train_epoch train_loader train_loss true_positives truth tuple type use_amp val val_loader
        value values vars version warmup width world worst write_history writer x y zip
    """,
    "finetune": """
        BATCH_SIZE DataLoader Dataset EPOCHS FREEZE HEAD INPUT_SHAPE ImportError LR METRICS OUT
        Path Progress RepeatChannels SCHEDULER SCHEDULERS SEED SystemExit ValueError WEIGHTS _
        __getitem__ __init__ __len__ __name__ actual add_schedule_arguments all any argparse args
        argv axes best_epoch best_loss bool channels check_schedule_arguments child choose_device
        class_names classes classification_metrics close color column columns confusion count
        count_classes csv dataset denominator device dict drops enabled enumerate epoch evaluate
        every everything f1 figure find_head fit_channels float fraction freeze frozen generator
        getattr grid guess hasattr head high image import_pyplot in_head index int isinstance json
        key label len line linears list loader log logits loss loss_sum low main make_datasets
        make_scheduler matched matplotlib matrix max metrics milestones min model module modules
        mps n name names names_source new nn now np old open optimizer os out p pairs parameter
        parameters parent parent_name parse_args parser part path picture plot_confusion
        plot_gallery plt predicted prefix prefixes present print progress ramp random range rate
        replace_head report_classification round row rows sample samples scheduler seconds seed
        seed_everything self setattr shape show_progress shown side sorted split splits started
        state step steps str stream summary sys test test_metrics threshold time title todo tops
        torch total total_steps tqdm train train_loader train_mode trainable true_positives truth
        tuple val val_loader value warmup width write_history writer x y zip
    """,
    "dataset_windows": """
        ADDITIONAL_PATHS BINARIZE_X DATA_PATH Dataset FORECAST IndexError PRE_HISTORY Path
        SINGLE_OUTPUT Sequence THRESHOLD VAL_FRACTION ValueError __getitem__ __init__ __len__
        __name__ _as_frames _check_length _frames a additional archive binarize_x bool channels
        count data dataset enumerate flat flatten_channels float forecast frames head i index int
        isinstance len load_frames make_datasets max name np object part path pre_history print
        round seed self series single_output source split start stop str threshold torch train
        tuple val value window x y
    """,
    "dataset_arrays": """
        DATA_PATH Dataset KeyError LAYOUT LAYOUTS VAL_FRACTION ValueError X_KEY X_PATH Y_KEY
        Y_PATH __getitem__ __init__ __len__ __name__ archive block channel_stats channels
        channels_first chunk classes count float held_out images index indices int isinstance key
        label labels layout len load_arrays make_datasets max mean min np order print range
        resolve_layout rng round row sample seed self shape spatial split_indices squares start
        std str targets torch total train train_rows tuple val val_fraction val_rows x y
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
        profiles radius range rng round samples scale seed self series shape side single_output
        size slice source split splits square start starts stop str strength stroke strokes t test
        tested threshold torch train tuple u v val value video window x y zip
    """,
}

MODULES = {
    "model": """
        collections torch
    """,
    "train": """
        argparse collections csv importlib json matplotlib numpy onnx onnxruntime os pathlib
        random sys time torch tqdm
    """,
    "finetune": """
        argparse csv json matplotlib numpy os pathlib random sys time torch tqdm
    """,
    "dataset_windows": """
        collections numpy pathlib torch
    """,
    "dataset_arrays": """
        numpy torch
    """,
    "dataset_synthetic": """
        collections numpy torch
    """,
}
