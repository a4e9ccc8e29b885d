"""Video data and percepts: official-split indexes, embedded action videos, decoding, clips,
image patches, RGB percepts (VGG16 fc6 or downsampled pixels), optical flow and the
temporal-stream CNN whose fc6-equivalent features are the flow percepts.

Every stage streams video by video; nothing holds all frames of a dataset in memory. Arrays are
written as float16 (total_frames, D) `.npy` files with int64 per-video `offsets` (see arrays.py).
"""

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".mpg", ".mpeg", ".flv")
