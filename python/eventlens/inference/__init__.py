"""In-loop inference: ONNX Runtime inside coffea processors."""

from .ort import OnnxWrapper, make_session
from .preprocess import ImageInput, TableInput

__all__ = ["ImageInput", "OnnxWrapper", "TableInput", "make_session"]
