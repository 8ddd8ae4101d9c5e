"""In-loop inference: ONNX Runtime inside coffea processors.

The model input (images or padded tables) is made by :mod:`eventlens.modelio`,
as in training; the model card (:mod:`eventlens.modelcard`) says which.
"""

from .ort import OnnxWrapper, make_session

__all__ = ["OnnxWrapper", "make_session"]
