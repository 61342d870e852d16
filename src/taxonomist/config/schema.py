"""Structured-config schema: what each YAML file may contain, with types and defaults.

Every YAML file under ``conf/`` is merged onto one of these dataclasses, so an unknown key
or a value of the wrong type is caught once, at composition time, with the file and key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from omegaconf import MISSING


class Balance(StrEnum):
    """How a classifier compensates for unbalanced classes."""

    none = "none"
    weights = "weights"  # inverse-frequency class weights in the loss
    sampler = "sampler"  # inverse-frequency weighted sampling of the training set
    focal = "focal"  # focal loss: down-weights easy images (``focal_gamma``)


class Strategy(StrEnum):
    """Which parts of a pretrained backbone train (transfer learning)."""

    head_only = "head_only"  # the new head only; the backbone is a fixed feature extractor
    last_n = "last_n"  # the head and the last ``unfreeze_last`` blocks (timm's grouping)
    full = "full"  # everything, deeper blocks at smaller learning rates (``layer_decay``)


class Targets(StrEnum):
    """What an inner node's network is trained to tell apart."""

    children = "children"  # the node's children: one output per child
    # every leaf under the node, one output each; the children's log-probabilities are
    # the log-sum-exp of their leaves', so the rest of the stack still sees children
    leaves = "leaves"


class Head(StrEnum):
    """What sits on top of the backbone's pooled features."""

    linear = "linear"  # trained with the network
    mlp = "mlp"  # two layers (mlp_hidden units, ReLU, dropout), trained with the network
    # "Go old school": scikit-learn on embeddings of the frozen backbone, extracted once
    knn = "knn"
    svm = "svm"
    logreg = "logreg"

    @property
    def is_classical(self) -> bool:
        """Fitted with scikit-learn on the frozen backbone's embeddings, not trained with
        the network: ``Head.knn.is_classical`` is True, ``Head.mlp.is_classical`` False."""
        return self in (Head.knn, Head.svm, Head.logreg)


class DataKind(StrEnum):
    """Where ingest reads images from."""

    sample = "sample"  # a bundled sample (`sample:`), written out by `taxonomist sample`
    folder = "folder"  # a folder of images plus a manifest CSV, or a folder per class
    s3 = "s3"  # an S3 bucket (or S3-compatible store): a manifest CSV, or a prefix per class


class SampleKind(StrEnum):
    """Which bundled sample `taxonomist sample` writes (no download either way)."""

    digits = "digits"  # scikit-learn's handwritten digits, for conf/taxonomy/digits.yaml
    vehicles = "vehicles"  # drawn cars and not-cars, for conf/taxonomy/vehicles.yaml


@dataclass
class BackboneConfig:
    """A timm backbone and where its starting weights come from."""

    name: str = "resnet18"  # any timm model name (a close name is suggested for a typo)
    pretrained: bool = True  # timm / Hugging Face hub weights (needs network)
    weights: str | None = None  # local .pth / .safetensors file instead of the hub
    unfreeze_last: int = 0  # 0: head only; N: also the last N blocks; -1: everything
    # null: head_only when unfreeze_last is 0, else last_n (which reads unfreeze_last)
    strategy: Strategy | None = None
    layer_decay: float = 0.75  # full only: block k below the head trains at lr * decay**k
    unfreeze_every: int = 0  # >0: start with the head, open one more block every N epochs
    init_from: str | None = None  # a node: start from its trained backbone, not hub/weights


class Schedule(StrEnum):
    """How the learning rate moves over training, stepped every batch."""

    constant = "constant"  # optim.lr throughout
    cosine = "cosine"  # from optim.lr down to 0 at the last of `epochs`
    # up from optim.lr / 25 to optim.lr in the first 30% of the steps, then down to ~0
    # (Smith & Topin 2018): the most accuracy from a few epochs
    onecycle = "onecycle"


@dataclass
class OptimConfig:
    """The optimiser and its learning-rate schedule."""

    name: str = "adamw"  # any optimiser class in torch.optim, case-insensitive
    lr: float = 1e-3  # the learning rate (with onecycle: the peak)
    weight_decay: float = 1e-4  # the optimiser's weight decay
    schedule: Schedule = Schedule.constant


class Decoding(StrEnum):
    """How the stack picks the class a walk heads for, before any stop."""

    greedy = "greedy"  # at every node, its likeliest child
    # the leaf with the least expected tree distance to the label, under the leaf
    # probabilities the calibrated nodes give together (Karthik et al., ICLR 2021)
    bayes_risk = "bayes_risk"
    # the leaf whose path is likeliest (the product of the calibrated node probabilities
    # along it), over every leaf at once: greedy can leave a path early for a sibling
    # that the node below it then doubts
    best_path = "best_path"


@dataclass
class StoppingConfig:
    """Where the stack stops: temperature scaling on val, and the threshold's origin."""

    # null: stop below the hand-set `threshold`. A share in (0, 1), e.g. 0.99: the
    # threshold is chosen on val, as low as keeps the answers given from this node on
    # right (the label or an ancestor of it) this often; it wins over `threshold`.
    target_precision: float | None = None
    # null: the target holds on val as measured. e.g. 0.9: it holds for the lower 90%
    # Clopper-Pearson bound of that precision (a guarantee with that confidence).
    confidence: float | None = None
    calibrate: bool = True  # temperature-scale this node's probabilities on val (NLL)
    # greedy | bayes_risk | best_path: one choice for the whole stack (every node agrees)
    decoding: Decoding = Decoding.best_path
    # Read at the root only. null: every image gets a walk. A share in (0, 1], e.g. 0.999:
    # images farther from the root's train images (Mahalanobis distance of its features)
    # than that share of val images are refused before the walk, reason "unfamiliar".
    unfamiliar_quantile: float | None = None


@dataclass
class ClassifierConfig:
    """One node's classifier: conf/classifiers/_default.yaml merged with <node>.yaml."""

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    head: Head = Head.linear  # what sits on the backbone's pooled features
    pca: int | None = None  # classical heads: reduce embeddings to this many dimensions
    neighbors: int = 5  # knn head only
    mlp_hidden: int = 256  # mlp head only: units in its hidden layer
    dropout: float = 0.2  # mlp head only: before its last layer, in training
    targets: Targets = Targets.leaves  # network heads only (classical: children)
    # In the stack: how much this node's probabilities lean on its ancestor with
    # `targets: leaves` nearest the root (that network's leaves under each child,
    # renormalised within this node): 0 the node alone, 1 the ancestor alone, 0.5 the
    # average; null: the weight with the least log-loss on the val images under the node.
    ancestor_weight: float | None = None
    image_size: int = 224  # pixels per side the node's images are cached and trained at
    # kornia.augmentation classes by name, or taxonomist's BBoxCropJitter / SamplePairing,
    # each a one-key mapping to its arguments, e.g. ``- RandomAffine: {degrees: 10}``;
    # applied to whole batches, training only (`taxonomist augment-preview NODE` shows them).
    augment: list[dict[str, Any]] = field(default_factory=list)
    optim: OptimConfig = field(default_factory=OptimConfig)
    epochs: int = 10  # at most; early stopping may end training sooner (`patience`)
    batch_size: int = 32  # images per training step (per device with DDP)
    balance: Balance = Balance.weights  # how unbalanced classes are compensated
    focal_gamma: float = 2.0  # balance: focal only; 0 is plain cross-entropy
    patience: int = 3  # early stopping on val_loss
    threshold: float = 0.5  # the stack stops at this node below this probability
    stopping: StoppingConfig = field(default_factory=StoppingConfig)  # calibrated stops
    min_images: int = 10  # per class; fewer fails validation
    recommended_images: int = 1000  # per class; fewer is a warning
    max_imbalance: float = 10.0  # largest/smallest class count
    # a class with more than this share of its images from one source (or one month)
    # is a warning, unless that source (month) holds as much of the whole node
    max_source_share: float = 0.9
    max_month_share: float = 0.9  # the same for one month of taken_at
    # Jensen-Shannon distance (0..1) of a split's class and source mix from train's
    max_split_divergence: float = 0.2
    fail_on_divergence: bool = False  # true: a divergent split fails validation


@dataclass
class TaxonomyConfig:
    """The tree of classes: every inner node gets a classifier over its children."""

    name: str = MISSING  # names the registered models: <name>.<node>, <name>.stack
    # an inner node maps to its children, a leaf is a name in a list; names are unique
    tree: Any = MISSING


@dataclass
class DataConfig:
    """Where ingest reads the images and their labels, and what it accepts."""

    kind: DataKind = DataKind.sample  # where the images come from
    root: str = "data/sample"  # folder with the images and the manifest CSV
    manifest: str = "manifest.csv"  # relative to root (s3: a key relative to prefix)
    # folder and s3 without that manifest: a regex (named groups label, set_id, source,
    # taken_at) matched against each file's path under root (s3: each key under prefix);
    # the default is torchvision's ImageFolder convention, root/<label>/...
    path_pattern: str = r"(?P<label>[^/]+)/.+"
    # kind: sample only: which bundled sample, and how many originals (sets of 2-3 views)
    # of each class to write (null: digits all ~180, vehicles 25 cars per leaf)
    sample: SampleKind = SampleKind.digits
    per_class: int | None = None  # kind: sample only: originals per class; null: the default
    # s3 only; credentials come from the AWS environment / profile chain, never from here
    bucket: str = ""
    prefix: str = ""  # the manifest's paths are keys relative to this prefix
    endpoint_url: str | None = None  # null: AWS; e.g. http://127.0.0.1:9000 for MinIO
    region: str | None = None  # null: from the AWS environment / profile
    workers: int = 8  # concurrent downloads
    max_attempts: int = 5  # tries per request (botocore's standard retry mode), first included
    read_timeout: float = 60.0  # seconds of silence before a request counts as failed
    # every source: what ingest accepts before it decodes an image fully
    formats: list[str] = field(default_factory=lambda: ["JPEG", "PNG", "WEBP"])
    max_pixels: int = 50_000_000  # width x height; larger is rejected from the header alone
    # whose word wins when a re-ingest brings another label, set_id, source, taken_at or
    # exclusion for a recorded image: the row's label_source, highest first (one not
    # listed ranks below all). Lower-ranked changes are kept in data/label_history.parquet
    # as overruled; at equal rank the newer row wins.
    label_precedence: list[str] = field(default_factory=lambda: ["expert", "crowd", "import"])


@dataclass
class SplitConfig:
    """The split into train, val and test: by set_id, stratified, test frozen."""

    val: float = 0.15  # share of sets (not images) held out for early stopping and fitting
    test: float = 0.2  # share of sets in the frozen test split
    # perceptual hashes at most this many bits (of 64) apart are near-duplicates;
    # validate fails when such a pair in different sets spans train and test
    near_duplicate_distance: int = 4


@dataclass
class DetectConfig:
    """The optional detect stage: a torchvision detector finds the object (the talk's "car
    detector") before the cache crops every image to it. Off by default."""

    enabled: bool = False  # true: a detect stage after ingest, and the cache crops to boxes
    # a builder in torchvision.models.detection, e.g. ssdlite320_mobilenet_v3_large
    model: str = "fasterrcnn_mobilenet_v3_large_320_fpn"
    # a state_dict file (relative to the project root), or DEFAULT: torchvision's own
    # weights for the model (COCO; downloaded once, so online)
    weights: str = "DEFAULT"
    num_classes: int = 91  # the detector's classes, background included (COCO: 91)
    labels: list[int] = field(default_factory=lambda: [3])  # the class ids that count (COCO: car)
    # arguments for the builder besides weights and num_classes, e.g. {min_size: 320}
    builder_args: dict[str, Any] = field(default_factory=dict)
    min_score: float = 0.5  # a box below this score is no box
    margin: float = 0.1  # the cache crops to the box grown by this share of its side, each way
    # an image with no box: `review` (left out of the splits, listed in
    # reports/detect/review.csv) or a class of the taxonomy it is labelled with instead
    no_box: str = "review"
    batch_size: int = 8  # images per forward of the detector


@dataclass
class TrainerConfig:
    """Arguments for Lightning's Trainer plus the DataLoader."""

    accelerator: str = "cpu"  # Lightning's accelerator: cpu, gpu or auto
    devices: Any = 1  # devices per machine: a count, a list of ids, or auto
    # Lightning strategy: auto, or ddp (conf/trainer/ddp.yaml): one process per device,
    # the command run again for each rank unless torchrun / SLURM's srun started them.
    # Not ddp_spawn: its ranks finish in child processes, so nothing would be published.
    strategy: str = "auto"
    num_nodes: int = 1  # machines in a multi-node DDP run (torchrun / SLURM set the rest)
    precision: str = "32-true"  # Lightning's precision, e.g. 16-mixed on GPUs
    num_workers: int = 0  # DataLoader workers; batches are slices of the memory-mapped cache
    deterministic: bool = True  # deterministic algorithms: the same seed, the same weights
    compile: bool = False  # torch.compile the network (slow first epoch, faster after)


@dataclass
class MlflowConfig:
    """Where runs, registered models and artifacts go."""

    # null: $MLFLOW_TRACKING_URI, else sqlite:///mlflow/mlflow.db in the project
    tracking_uri: str | None = None
    experiment: str = "taxonomist"  # the MLflow experiment every run is logged to
    artifact_root: str = "mlflow/artifacts"  # used with the local sqlite store only


@dataclass
class PromotionConfig:
    """The gate: challenger vs live, paired on the same frozen test images."""

    # leaf_accuracy, accuracy_depth_<N> or coverage_at_precision (McNemar);
    # hierarchical_f1 or distance_at_1 (lower is better; Wilcoxon): all paired per image
    metric: str = "leaf_accuracy"
    alpha: float = 0.05  # significance level, after Holm correction for the many checks
    confidence: float = 0.95  # of the bootstrap interval on the difference
    n_resamples: int = 2000  # bootstrap resamples (of set_id groups)
    min_improvement: float = 0.0  # "better" without significance must beat live by more
    margin: float = 0.05  # non-inferiority margin for every node's accuracy / class's recall
    margins: dict[str, float] = field(default_factory=dict)  # per node or class overrides
    min_metric: float = 0.5  # floor for the first promotion, when nothing is live
    lock_timeout_s: float = 600.0  # a promotion lock older than this was left by a crash


@dataclass
class RetryConfig:
    """How hard a network notifier tries before it reports a failure."""

    attempts: int = 4  # tries in all, the first included; 1 means no retry
    backoff: float = 1.0  # seconds before the first retry; doubles after each
    max_backoff: float = 30.0  # no single wait is longer than this


@dataclass
class SlackConfig:
    """A Slack incoming webhook. The URL is a secret, so it is read from the environment."""

    webhook_env: str = "TAXONOMIST_SLACK_WEBHOOK"  # the variable's NAME, never the URL
    # Where people open the card, e.g. https://ci.example.com/{model}/{version}/card.html
    # ({model} and {version} are filled in); null: the card's path on the runner.
    card_url: str | None = None
    timeout: float = 10.0  # seconds per request


@dataclass
class EmailConfig:
    """An SMTP server; the login, when it needs one, comes from the environment."""

    host: str = "localhost"  # the SMTP server
    port: int = 587  # its port; 587 for STARTTLS
    sender: str = ""  # the From address
    to: list[str] = field(default_factory=list)  # the recipients' addresses
    starttls: bool = True  # upgrade to TLS before logging in; false only for a local relay
    user_env: str = "TAXONOMIST_SMTP_USER"  # unset: send without logging in
    password_env: str = "TAXONOMIST_SMTP_PASSWORD"  # the variable holding the password
    timeout: float = 10.0  # seconds per connection


@dataclass
class NotifyConfig:
    """Where the notify stage sends the decision.

    The outbox line is always written, as the record; ``kind`` and ``channels`` name the
    channels that reach people (outbox, slack, email), e.g. ``kind: slack`` or
    ``channels: [slack, email]``.
    """

    kind: str = "outbox"  # the channel: outbox, slack or email
    channels: list[str] = field(default_factory=list)  # more channels, besides `kind`
    outbox: str = "reports/outbox.jsonl"  # one JSON line per decision, always written
    slack: SlackConfig = field(default_factory=SlackConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)


@dataclass
class SvcBaselineConfig:
    """The classical baseline: scikit-learn's SVC on downscaled grey pixels."""

    size: int = 8  # pixels per side of the grey image it sees (the sample's originals: 8)
    C: float = 1.0  # scikit-learn's default
    gamma: float | None = None  # null: scikit-learn's "scale", 1 / (pixels x pixel variance)


@dataclass
class BaselineConfig:
    """The baseline stage: what the stack must beat on its own test split. The flat
    network has no settings of its own: it is trained with the root node's definition."""

    svc: SvcBaselineConfig = field(default_factory=SvcBaselineConfig)


class Aggregation(StrEnum):
    """How ``taxonomist label import`` turns several workers' answers into one label
    (crowd-kit's aggregators)."""

    # one accuracy per worker, errors spread evenly: what 3 answers per image can estimate
    one_coin_dawid_skene = "one_coin_dawid_skene"
    dawid_skene = "dawid_skene"  # a confusion matrix per worker: needs many answers each
    majority_vote = "majority_vote"  # each worker's vote counts the same
    mace = "mace"  # MACE: each worker knows the answer, or spams (Hovy et al., 2013)


@dataclass
class CrowdConfig:
    """The crowd round trip (``taxonomist label``): no DVC stage reads these."""

    aggregation: Aggregation = Aggregation.one_coin_dawid_skene
    # seconds a presigned S3 URL in an exported batch works (S3 allows up to 7 days)
    url_ttl_s: int = 259_200


@dataclass
class ProjectConfig:
    """conf/config.yaml after Hydra has composed its defaults list."""

    taxonomy: TaxonomyConfig = field(default_factory=TaxonomyConfig)
    data: DataConfig = field(default_factory=DataConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    detect: DetectConfig = field(default_factory=DetectConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    promotion: PromotionConfig = field(default_factory=PromotionConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    baseline: BaselineConfig = field(default_factory=BaselineConfig)
    crowd: CrowdConfig = field(default_factory=CrowdConfig)
    seed: int = 42  # seeds the sample, the split, every training and the gate's bootstrap
    # the folder under conf/ with this taxonomy's classifier definitions (_default.yaml
    # and <node>.yaml); an experiment with another taxonomy brings its own
    classifier_dir: str = "classifiers"
