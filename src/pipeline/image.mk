# src/pipeline/image.mk - the image side of the pre/post-processing pipeline.
# Included by the Makefile right after serve.mk (before its first rule).
#
#   src/pipeline/image.c, ocr.c   resize/crop/normalize, NMS, CTC, DB boxes: in
#                                 libnnedge (libc + libm only), API in nnedge.h
#   src/pipeline/io/image_*.c     JPEG/PNG decoding (libjpeg-turbo, libpng): in
#                                 the nnedge command and libnnedge_io
#                                 (src/pipeline/io.mk), API in nnedge_image.h
#   make test-app-ocr             tests/app/ocr: kernels vs numpy/Pillow, OCR on
#                                 rendered text (CER, IoU), bad image files
IMAGEIO_SRC  := $(sort $(wildcard src/pipeline/io/image*.c))
IMAGEIO_OBJ  := $(IMAGEIO_SRC:%.c=$(BUILD)/obj/%.o)
IMAGEIO_LIBS := -ljpeg $(shell pkg-config --libs libpng 2>/dev/null || echo -lpng)
CLI_OBJ += $(IMAGEIO_OBJ)
$(BUILD)/nnedge: LDLIBS += $(IMAGEIO_LIBS)
# the image tests' helper: the C kernels on .npy files (tests/app/image_tool.c)
$(BUILD)/image_tool: $(BUILD)/obj/tests/app/image_tool.o $(IMAGEIO_OBJ) $(BUILD)/libnnedge.a
	$(CC) $(LDSAN) -o $@ $^ $(IMAGEIO_LIBS) $(LDLIBS)

test-app-ocr:
	$(MAKE) -j$(J) SAN=1 build-san/nnedge build-san/image_tool
	$(MAKE) -j$(J) build/libnnedge.so
	NNEDGE=build-san/nnedge IMAGE_TOOL=build-san/image_tool OUT=build-san/app-ocr sh tests/app/run_ocr.sh
.PHONY: test-app-ocr
