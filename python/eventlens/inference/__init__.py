"""In-loop inference: ONNX Runtime inside coffea processors."""

from .ort import OnnxWrapper, make_session
from .preprocess import ImageInput

__all__ = ["ImageInput", "OnnxWrapper", "make_session"]
