"""Training one classifier per taxonomy node: timm + kornia + Lightning + MLflow."""
