"""MLflow "models from code" entry point for the stack.

MLflow stores this file with the model and runs it on load, so the served stack is
rebuilt from its safetensors weights instead of being unpickled.
"""

import mlflow

from taxonomist.stack.pyfunc import StackModel

mlflow.models.set_model(StackModel())
