"""Names the generated files use, per kind: derived by cnngen.rendering.namespace.

Written by ``python examples/regenerate.py``; do not edit by hand.  A test
fails while this is stale, and cnngen derives the names again meanwhile.
"""

FINGERPRINT = "216ea5d226a04d9e1f333c591cba21838527508c2eeff3c6f60b4aa409a09763"

NAMES = {
    "model": """
        BRANCHES ChannelNorm Crop FAMILY GroupConv2d GroupPool INPUT_SHAPE Inception LAYERS
        LAYER_SHAPES LayerScale LiftingConv2d MACS OUTPUT_SHAPE OrderedDict OrientationStack
        PARAMETERS Residual RotationMax RotationMean RotationStack SqueezeExcite ValueError _
        __init__ __name__ act batch bias bool bound branches channels check_input context copies
        dim downsample enc1 enc2 enumerate float forward in_channels init int kernel_size layers
        list maps model name nn out out_channels output p padding parameters print r range reduced
        scale self shape size start sum super torch tuple turns up1 up2 w weight x zip
    """,
    "train": """
        BATCH_SIZE BINARY BaseException CHECKPOINT_FORMAT CHECKPOINT_KEYS CLASSES CNNGEN_COMMAND
        CNNGEN_VERSION Callable CheckedDataset DataLoader Dataset DistributedDataParallel
        DistributedSampler EPOCHS EXPORT_TOLERANCE Exception INPUT_SHAPE ImportError IndexError
        KeyError KeyboardInterrupt LR METRICS ONNX_OPSET OSError OUT OUTPUT_SHAPE Path Progress
        RuntimeError SCHEDULER SCHEDULERS SEED Subset SystemExit TASK TrainingError TypeError
        ValueError _ __getitem__ __init__ __len__ __name__ a actual add_deploy_arguments
        add_schedule_arguments all all_rng_states all_sum amp_dtype argparse args argv axes b
        backend bare batch batch_dim best_epoch best_loss best_state bool buffer cached_gaussian
        check_sample check_schedule_arguments check_writable checkpoint choose_device class_names
        classes classification_metrics close color column columns confusion count csv dataset
        denominator device device_ids dice dict difference differences dist drops enabled entry
        enumerate epoch epoch_steps epochs error evaluate evaluate_test every expected
        export_model export_onnx export_to exporter f1 figure files first_step flag float folder
        fraction fresh_run_state gauss generator getattr grid guess has_gauss hasattr head high
        image import_pyplot importlib improved index init_distributed inputs int internal io iou
        isinstance json keep_state key keys kind label labels len level limit line lines list
        load_checkpoint load_torch_file load_weights loader local_rank log logging logits loss low
        main make_checkpoint make_datasets make_loaders make_scheduler matplotlib matrix max
        max_difference memory_format message metrics milestones min missing model move mps mse
        name names network nn now np numpy_state obj object one_line onnx onnx_parity onnxruntime
        open opset optimizer os out output overlap p parity parse_args parser part path pickle
        picture pin pixel_classes pixel_loss plot_confusion plot_gallery plot_history plt position
        predicted prediction prefix present print probe program progress ramp random range rank
        rate reason record reduction reloaded report_classification resume rng_state round row
        rows run_state sample sampler samples save_staged saved scaler scheduler seconds seed
        seed_everything segmentation_metrics self session set_rng_state show_progress shown shutil
        side sorted split split_datasets splits staging started state state_dict states step steps
        steps_left str stream sum summary sums sys temporary tensor test test_metrics text
        threshold time title torch torch_log total total_steps totals tqdm train train_epoch
        train_loader train_loss true_positives truth tuple type unexpected use_amp v val
        val_loader value values vars version warmup warnings width world worst write write_history
        write_staged writer written x y zip
    """,
    "finetune": """
        BATCH_SIZE BaseException Callable DataLoader Dataset EPOCHS Exception FREEZE HEAD
        INPUT_SHAPE ImportError KeyboardInterrupt LR METRICS OSError OUT Path Progress
        RepeatChannels SCHEDULER SCHEDULERS SEED SystemExit TrainingError ValueError WEIGHTS _
        __getitem__ __init__ __len__ __name__ actual add_schedule_arguments all any argparse args
        argv axes best_epoch best_loss bool buffer channels check_schedule_arguments
        check_writable child choose_device class_names classes classification_metrics close color
        column columns confusion count count_classes csv dataset denominator device dict drops
        enabled enumerate epoch error evaluate every everything expected f1 figure find_head
        fit_channels flag float folder fraction freeze frozen generator getattr grid guess hasattr
        head high image import_pyplot in_head index int io isinstance json key label len line
        linears lines list load_torch_file load_weights loader log logits loss loss_sum low main
        make_datasets make_scheduler matched matplotlib matrix max metrics milestones min model
        module modules mps n name names names_source new nn now np obj object old one_line open
        optimizer os out p pairs parameter parameters parent parent_name parse_args parser part
        path pickle picture plot_confusion plot_gallery plt predicted prefix prefixes present
        print probe progress ramp random range rate reason replace_head report_classification
        round row rows sample samples save_staged scheduler seconds seed seed_everything self
        setattr shape show_progress shown side sorted split splits started state step steps str
        stream summary sys temporary test test_metrics text threshold time title todo tops torch
        total total_steps tqdm train train_loader train_mode trainable true_positives truth tuple
        type unexpected v val val_loader value warmup weights width write write_history
        write_staged writer x y zip
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
        argparse collections csv importlib io json logging matplotlib numpy onnx onnxruntime os
        pathlib pickle random shutil sys time torch tqdm warnings
    """,
    "finetune": """
        argparse collections csv io json matplotlib numpy os pathlib pickle random sys time torch
        tqdm
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
