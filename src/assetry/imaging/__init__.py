"""The image processor adapter: libvips (and pillow-heif for HEIC) behind ImageProcessor."""
