# src/pipeline/io.mk - libnnedge_io: the decoders of the pre-processing
# pipeline that need Debian libraries, as a library of their own next to
# libnnedge (which links only libc, libm and pthreads). Included at the end
# of the Makefile.
#
#   src/pipeline/io/image_*.c   JPEG/PNG decoding (libjpeg-turbo, libpng),
#                               API include/nnedge_image.h
#   src/pipeline/audio_file.c   audio decoding and resampling (libsndfile,
#                               libsamplerate), API include/nnedge_audio.h
#
#   build/libnnedge_io.a, build/libnnedge_io.so (NEEDED libnnedge.so: it calls
#   only libnnedge's public API), build/nnedge-io.pc; `make install` installs
#   them with both headers. The nnedge command links the same objects.
NNEDGE_IO_SRC  := $(IMAGEIO_SRC) $(PIPE_AUDIO_TOOL_SRC)
NNEDGE_IO_OBJ  := $(NNEDGE_IO_SRC:%.c=$(BUILD)/obj/%.o)
NNEDGE_IO_LIBS := $(IMAGEIO_LIBS) $(PIPE_AUDIO_LIBS)
IO_SONAME      := libnnedge_io.so.$(SOVERSION)

all: $(BUILD)/libnnedge_io.a $(BUILD)/libnnedge_io.so $(BUILD)/nnedge-io.pc

$(BUILD)/libnnedge_io.a: $(NNEDGE_IO_OBJ)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libnnedge_io.so: $(NNEDGE_IO_OBJ) $(BUILD)/libnnedge.so
	$(CC) -shared $(LDSAN) -Wl,-soname,$(IO_SONAME) -o $@ $(NNEDGE_IO_OBJ) -L$(BUILD) -lnnedge $(NNEDGE_IO_LIBS) $(LDLIBS)
	ln -sf libnnedge_io.so $(BUILD)/$(IO_SONAME)
$(BUILD)/nnedge-io.pc: scripts/nnedge-io.pc.in $(BUILD)/pcvars
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${exec_prefix}/%,$(LIBDIR))|' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@IO_LIBS@|$(strip $(NNEDGE_IO_LIBS))|' $< > $@.tmp
	mv $@.tmp $@

install: install-io
install-io: $(BUILD)/libnnedge_io.a $(BUILD)/libnnedge_io.so $(BUILD)/nnedge-io.pc
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 include/nnedge_image.h $(DESTDIR)$(INCLUDEDIR)/nnedge_image.h
	install -m 644 include/nnedge_audio.h $(DESTDIR)$(INCLUDEDIR)/nnedge_audio.h
	install -m 644 $(BUILD)/libnnedge_io.a $(DESTDIR)$(LIBDIR)/libnnedge_io.a
	install -m 755 $(BUILD)/libnnedge_io.so $(DESTDIR)$(LIBDIR)/libnnedge_io.so.$(VERSION)
	ln -sf libnnedge_io.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(IO_SONAME)
	ln -sf $(IO_SONAME) $(DESTDIR)$(LIBDIR)/libnnedge_io.so
	install -m 644 $(BUILD)/nnedge-io.pc $(DESTDIR)$(PKGCONFIGDIR)/nnedge-io.pc

uninstall: uninstall-io
uninstall-io:
	rm -f $(DESTDIR)$(INCLUDEDIR)/nnedge_image.h $(DESTDIR)$(INCLUDEDIR)/nnedge_audio.h \
	      $(DESTDIR)$(LIBDIR)/libnnedge_io.a $(DESTDIR)$(LIBDIR)/libnnedge_io.so $(DESTDIR)$(LIBDIR)/$(IO_SONAME) \
	      $(DESTDIR)$(LIBDIR)/libnnedge_io.so.$(VERSION) $(DESTDIR)$(PKGCONFIGDIR)/nnedge-io.pc

# `make test-exports` also checks what libnnedge_io.so exports: exactly the
# functions of its two headers
test-exports: test-exports-io
test-exports-io: $(BUILD)/libnnedge_io.so
	python3 tests/abi/check_exports.py $(BUILD)/libnnedge_io.so include/nnedge_image.h include/nnedge_audio.h

.PHONY: install-io uninstall-io test-exports-io
