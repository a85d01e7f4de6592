"""Image pre- and post-processing of libnnedge (nnedge.h, "image and OCR
pipeline") on numpy arrays:

  from nnedge import image
  small = image.resize(img, 224, 224)                 # [H, W, C] uint8 or float32
  x = image.to_tensor(small, 1 / 255, mean, std)      # [1, C, H, W] float32
  boxes = image.ocr_db_boxes(prob_map)                # PaddleOCR DB boxes
  labels, score = image.ctc_greedy_decode(scores)     # [T, classes]
  keep = image.nms(boxes, scores, 0.5)

Every function checks its arguments in the library and raises NnedgeError
with the library's message. Decoding JPEG/PNG is not in libnnedge (it needs
libjpeg/libpng): use Pillow, or the nnedge command.
"""
import ctypes

import numpy as np

from ._lib import NnedgeError, Tensor, check, lib, tensor_of

__all__ = ['resize', 'crop', 'warp_quad', 'rotate90', 'to_tensor', 'from_tensor', 'nms', 'ctc_greedy_decode', 'ocr_db_boxes',
           'RESIZE_MODES', 'NnedgeError']

RESIZE_MODES = {'bilinear': 0, 'align_corners': 1, 'nearest': 2, 'area': 3}


class _Image(ctypes.Structure):
    _fields_ = [('width', ctypes.c_int32), ('height', ctypes.c_int32), ('channels', ctypes.c_int32),
                ('dtype', ctypes.c_int), ('data', ctypes.c_void_p)]


class _Box(ctypes.Structure):
    _fields_ = [('pts', ctypes.c_float * 8), ('score', ctypes.c_float)]


_F = ctypes.POINTER(ctypes.c_float)
_I = ctypes.POINTER(ctypes.c_int32)
_IM = ctypes.POINTER(_Image)
for _name, _args in {
    'nne_image_resize': [_IM, _IM, ctypes.c_int],
    'nne_image_crop': [_IM, ctypes.c_int32, ctypes.c_int32, _IM],
    'nne_image_warp_quad': [_IM, _F, _IM],
    'nne_image_rotate90': [_IM, ctypes.c_int32, _IM],
    'nne_image_to_tensor': [_IM, ctypes.c_float, _F, _F, ctypes.c_int, ctypes.c_int32, ctypes.POINTER(Tensor)],
    'nne_image_from_tensor': [ctypes.POINTER(Tensor), ctypes.c_int, ctypes.c_float, ctypes.c_float, _IM],
    'nne_nms': [_F, _F, ctypes.c_int32, ctypes.c_float, ctypes.c_float, _I, _I],
    'nne_ctc_greedy_decode': [_F, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32, _I, _I, _F],
    'nne_ocr_db_boxes': [_F, ctypes.c_int32, ctypes.c_int32, ctypes.c_float, ctypes.c_float, ctypes.c_float,
                         ctypes.POINTER(_Box), ctypes.c_int32, _I],
}.items():
    _f = getattr(lib, _name)
    _f.restype, _f.argtypes = ctypes.c_int, _args


def _img(a):
    """An nne_image over a C-contiguous [H, W] or [H, W, C] uint8/float32 array."""
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.dtype not in (np.uint8, np.float32):
        raise ValueError('nnedge.image: expected an [H, W] or [H, W, C] uint8 or float32 array, got %s %s'
                         % (a.dtype, a.shape))
    a = np.ascontiguousarray(a)
    im = _Image(a.shape[1], a.shape[0], a.shape[2], 2 if a.dtype == np.uint8 else 1, a.ctypes.data)
    return im, a


def _fp(a):
    return a.ctypes.data_as(_F)


def resize(img, width, height, mode='bilinear', dtype=np.float32):
    """Resize to width x height (mode: bilinear = ONNX linear half_pixel,
    align_corners, nearest = ONNX half_pixel + round_prefer_floor, area)."""
    src, keep = _img(np.asarray(img))
    out = np.empty((height, width, src.channels), dtype)
    dst, _ = _img(out)
    check(lib.nne_image_resize(ctypes.byref(src), ctypes.byref(dst), RESIZE_MODES[mode]), 'nnedge.image.resize')
    return out


def crop(img, x, y, width, height):
    src, keep = _img(np.asarray(img))
    out = np.empty((height, width, src.channels), keep.dtype)
    dst, _ = _img(out)
    check(lib.nne_image_crop(ctypes.byref(src), x, y, ctypes.byref(dst)), 'nnedge.image.crop')
    return out


def warp_quad(img, quad, width, height, dtype=np.float32):
    """Perspective crop of quad (4 x 2: top-left, top-right, bottom-right,
    bottom-left) into width x height, bilinear, edge pixels replicated."""
    src, keep = _img(np.asarray(img))
    q = np.ascontiguousarray(np.asarray(quad, np.float32).reshape(8))
    out = np.empty((height, width, src.channels), dtype)
    dst, _ = _img(out)
    check(lib.nne_image_warp_quad(ctypes.byref(src), _fp(q), ctypes.byref(dst)), 'nnedge.image.warp_quad')
    return out


def rotate90(img, k=1):
    """np.rot90(img, k) (counter-clockwise)."""
    src, keep = _img(np.asarray(img))
    h, w = (src.width, src.height) if k % 2 else (src.height, src.width)
    out = np.empty((h, w, src.channels), keep.dtype)
    dst, _ = _img(out)
    check(lib.nne_image_rotate90(ctypes.byref(src), k, ctypes.byref(dst)), 'nnedge.image.rotate90')
    return out


def to_tensor(img, scale=1.0, mean=None, std=None, layout='nchw', swap_rb=False, size=None, dtype=np.float32):
    """(sample * scale - mean) / std into [1, C, H, W] (or [1, H, W, C]);
    size=(H, W) pads with zeros to the right and bottom."""
    src, keep = _img(np.asarray(img))
    H, W = size if size else (src.height, src.width)
    C = src.channels
    out = np.empty((1, C, H, W) if layout == 'nchw' else (1, H, W, C), dtype)
    t = tensor_of(out)
    m = None if mean is None else np.ascontiguousarray(np.broadcast_to(np.asarray(mean, np.float32), (C,)))
    s = None if std is None else np.ascontiguousarray(np.broadcast_to(np.asarray(std, np.float32), (C,)))
    check(lib.nne_image_to_tensor(ctypes.byref(src), scale, None if m is None else _fp(m),
                                  None if s is None else _fp(s), 0 if layout == 'nchw' else 1, int(bool(swap_rb)),
                                  ctypes.byref(t)), 'nnedge.image.to_tensor')
    return out


def from_tensor(t, scale=1.0, bias=0.0, layout='nchw', dtype=np.float32):
    """[1, C, H, W] (or [1, H, W, C]) float32 -> [H, W, C] image of t * scale + bias
    (uint8: rounded and saturated)."""
    a = np.ascontiguousarray(t, np.float32)
    if a.ndim != 4:
        raise ValueError('nnedge.image.from_tensor: expected a 4-D tensor, got %s' % (a.shape,))
    C, H, W = (a.shape[1], a.shape[2], a.shape[3]) if layout == 'nchw' else (a.shape[3], a.shape[1], a.shape[2])
    out = np.empty((H, W, C), dtype)
    dst, _ = _img(out)
    tt = tensor_of(a)
    check(lib.nne_image_from_tensor(ctypes.byref(tt), 0 if layout == 'nchw' else 1, scale, bias, ctypes.byref(dst)),
          'nnedge.image.from_tensor')
    return out


def nms(boxes, scores, iou_threshold, score_threshold=-np.inf):
    """Indices kept by greedy NMS over [N, 4] boxes (x1, y1, x2, y2)."""
    b = np.ascontiguousarray(boxes, np.float32).reshape(-1, 4)
    s = np.ascontiguousarray(scores, np.float32).reshape(-1)
    if len(s) != len(b):
        raise ValueError('nnedge.image.nms: %d boxes but %d scores' % (len(b), len(s)))
    keep = np.empty(max(1, len(s)), np.int32)
    n = ctypes.c_int32()
    check(lib.nne_nms(_fp(b), _fp(s), len(s), iou_threshold, score_threshold, keep.ctypes.data_as(_I),
                      ctypes.byref(n)), 'nnedge.image.nms')
    return keep[:n.value].copy()


def ctc_greedy_decode(scores, blank=0):
    """(labels, mean score) of CTC best-path decoding of [T, classes] scores."""
    a = np.ascontiguousarray(scores, np.float32)
    if a.ndim != 2:
        raise ValueError('nnedge.image.ctc_greedy_decode: expected [T, classes], got %s' % (a.shape,))
    lab = np.empty(max(1, a.shape[0]), np.int32)
    n, sc = ctypes.c_int32(), ctypes.c_float()
    check(lib.nne_ctc_greedy_decode(_fp(a), a.shape[0], a.shape[1], blank, lab.ctypes.data_as(_I), ctypes.byref(n),
                                    ctypes.byref(sc)), 'nnedge.image.ctc_greedy_decode')
    return lab[:n.value].copy(), sc.value


def ocr_db_boxes(prob, thresh=0.3, box_thresh=0.6, unclip_ratio=1.5, max_boxes=1000):
    """PaddleOCR DB boxes of an [H, W] probability map: a list of
    (corners as a 4 x 2 array: TL, TR, BR, BL; score)."""
    p = np.ascontiguousarray(prob, np.float32)
    if p.ndim != 2:
        raise ValueError('nnedge.image.ocr_db_boxes: expected [H, W], got %s' % (p.shape,))
    boxes = (_Box * max_boxes)()
    n = ctypes.c_int32()
    check(lib.nne_ocr_db_boxes(_fp(p), p.shape[0], p.shape[1], thresh, box_thresh, unclip_ratio, boxes, max_boxes,
                               ctypes.byref(n)), 'nnedge.image.ocr_db_boxes')
    return [(np.array(boxes[i].pts, np.float32).reshape(4, 2), boxes[i].score) for i in range(n.value)]
