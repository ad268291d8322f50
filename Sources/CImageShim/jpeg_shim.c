/* JPEG decoding and encoding with libjpeg(-turbo), errors turned into return codes: error_exit
 * formats the message and longjmps back into the *_run function, which never touches its own
 * locals after the jump (all state lives in the caller's struct). */
#include "isn_image_shim.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct {
  struct jpeg_error_mgr manager; /* first, so a j_common_ptr's err points to this struct */
  jmp_buf jump;
  char *error;
  size_t error_size;
} jpeg_error_sink;

static void shim_jpeg_error_exit(j_common_ptr cinfo) {
  jpeg_error_sink *sink = (jpeg_error_sink *)cinfo->err;
  char message[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, message);
  snprintf(sink->error, sink->error_size, "%s", message);
  longjmp(sink->jump, 1);
}

/* Warnings are ignored (like PIL, which tolerates e.g. extraneous bytes before a marker) except
 * the premature end of data, which libjpeg would otherwise paper over with grey: that is a
 * truncated file, and an error. */
static void shim_jpeg_emit_message(j_common_ptr cinfo, int level) {
  if (level < 0) {
    cinfo->err->num_warnings++;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
      shim_jpeg_error_exit(cinfo);
    }
  }
}

/* ---- decoding ---- */

typedef struct {
  struct jpeg_decompress_struct cinfo;
  jpeg_error_sink sink;
  unsigned char *pixels;
} jpeg_decode_state;

static int jpeg_decode_run(jpeg_decode_state *state, const unsigned char *data, size_t size, isn_decoded_image *out) {
  struct jpeg_decompress_struct *cinfo = &state->cinfo;
  if (setjmp(state->sink.jump)) {
    return 1;
  }
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, data, (unsigned long)size);
  jpeg_read_header(cinfo, TRUE);
  switch (cinfo->jpeg_color_space) {
  case JCS_GRAYSCALE:
    cinfo->out_color_space = JCS_GRAYSCALE;
    break;
  case JCS_YCbCr:
  case JCS_RGB:
    cinfo->out_color_space = JCS_RGB;
    break;
  case JCS_CMYK:
  case JCS_YCCK:
    snprintf(state->sink.error, state->sink.error_size, "CMYK/YCCK JPEG is not supported (convert it to RGB)");
    return 1;
  default:
    snprintf(state->sink.error, state->sink.error_size, "unsupported JPEG colour space %d", (int)cinfo->jpeg_color_space);
    return 1;
  }
  if ((size_t)cinfo->image_width * cinfo->image_height > ISN_MAX_PIXELS) {
    snprintf(state->sink.error, state->sink.error_size, "image too large (%ux%u)", cinfo->image_width,
             cinfo->image_height);
    return 1;
  }
  jpeg_start_decompress(cinfo);
  size_t row_bytes = (size_t)cinfo->output_width * cinfo->output_components;
  state->pixels = (unsigned char *)malloc(row_bytes * cinfo->output_height);
  if (!state->pixels) {
    snprintf(state->sink.error, state->sink.error_size, "out of memory");
    return 1;
  }
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = state->pixels + (size_t)cinfo->output_scanline * row_bytes;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
  out->width = (int)cinfo->output_width;
  out->height = (int)cinfo->output_height;
  out->channels = cinfo->output_components;
  out->bit_depth = 8;
  return 0;
}

int isn_jpeg_decode(const unsigned char *data, size_t size, isn_decoded_image *out, char *error, size_t error_size) {
  jpeg_decode_state *state = (jpeg_decode_state *)calloc(1, sizeof(jpeg_decode_state));
  memset(out, 0, sizeof *out);
  if (!state) {
    snprintf(error, error_size, "out of memory");
    return 1;
  }
  state->sink.error = error;
  state->sink.error_size = error_size;
  state->cinfo.err = jpeg_std_error(&state->sink.manager);
  state->sink.manager.error_exit = shim_jpeg_error_exit;
  state->sink.manager.emit_message = shim_jpeg_emit_message;
  int failed = jpeg_decode_run(state, data, size, out);
  jpeg_destroy_decompress(&state->cinfo);
  unsigned char *pixels = state->pixels;
  free(state);
  if (failed) {
    free(pixels);
    memset(out, 0, sizeof *out);
    return 1;
  }
  out->pixels = pixels;
  return 0;
}

/* ---- encoding ---- */

/* A destination manager growing one malloc'ed buffer that the state owns (libjpeg's own
 * jpeg_mem_dest frees and replaces its buffer while growing, which leaves the caller a dangling
 * pointer if an error strikes mid-way). */
typedef struct {
  struct jpeg_destination_mgr manager;
  unsigned char *buffer;
  size_t capacity;
  size_t size;
} growable_destination;

typedef struct {
  struct jpeg_compress_struct cinfo;
  jpeg_error_sink sink;
  growable_destination destination;
} jpeg_encode_state;

static void shim_jpeg_init_destination(j_compress_ptr cinfo) {
  growable_destination *dest = (growable_destination *)cinfo->dest;
  dest->capacity = 65536;
  dest->buffer = (unsigned char *)malloc(dest->capacity);
  if (!dest->buffer) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
  dest->manager.next_output_byte = dest->buffer;
  dest->manager.free_in_buffer = dest->capacity;
}

static boolean shim_jpeg_empty_output_buffer(j_compress_ptr cinfo) {
  growable_destination *dest = (growable_destination *)cinfo->dest;
  size_t capacity = dest->capacity * 2;
  unsigned char *grown = (unsigned char *)realloc(dest->buffer, capacity);
  if (!grown) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
  dest->buffer = grown;
  dest->manager.next_output_byte = grown + dest->capacity;
  dest->manager.free_in_buffer = capacity - dest->capacity;
  dest->capacity = capacity;
  return TRUE;
}

static void shim_jpeg_term_destination(j_compress_ptr cinfo) {
  growable_destination *dest = (growable_destination *)cinfo->dest;
  dest->size = dest->capacity - dest->manager.free_in_buffer;
}

static int jpeg_encode_run(jpeg_encode_state *state, const unsigned char *pixels, int width, int height,
                           int channels, int quality) {
  struct jpeg_compress_struct *cinfo = &state->cinfo;
  if (setjmp(state->sink.jump)) {
    return 1;
  }
  jpeg_create_compress(cinfo);
  if (width <= 0 || height <= 0 || (channels != 1 && channels != 3 && channels != 4)) {
    snprintf(state->sink.error, state->sink.error_size, "JPEG encoding needs a non-empty gray, RGB or CMYK image");
    return 1;
  }
  state->destination.manager.init_destination = shim_jpeg_init_destination;
  state->destination.manager.empty_output_buffer = shim_jpeg_empty_output_buffer;
  state->destination.manager.term_destination = shim_jpeg_term_destination;
  cinfo->dest = &state->destination.manager;
  cinfo->image_width = (JDIMENSION)width;
  cinfo->image_height = (JDIMENSION)height;
  cinfo->input_components = channels;
  cinfo->in_color_space = channels == 1 ? JCS_GRAYSCALE : (channels == 3 ? JCS_RGB : JCS_CMYK);
  jpeg_set_defaults(cinfo);
  jpeg_set_quality(cinfo, quality < 1 ? 1 : (quality > 100 ? 100 : quality), TRUE);
  jpeg_start_compress(cinfo, TRUE);
  size_t row_bytes = (size_t)width * channels;
  while (cinfo->next_scanline < cinfo->image_height) {
    JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo->next_scanline * row_bytes);
    jpeg_write_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_compress(cinfo);
  return 0;
}

int isn_jpeg_encode(const unsigned char *pixels, int width, int height, int channels, int quality,
                    unsigned char **out, size_t *out_size, char *error, size_t error_size) {
  *out = NULL;
  *out_size = 0;
  jpeg_encode_state *state = (jpeg_encode_state *)calloc(1, sizeof(jpeg_encode_state));
  if (!state) {
    snprintf(error, error_size, "out of memory");
    return 1;
  }
  state->sink.error = error;
  state->sink.error_size = error_size;
  state->cinfo.err = jpeg_std_error(&state->sink.manager);
  state->sink.manager.error_exit = shim_jpeg_error_exit;
  state->sink.manager.emit_message = shim_jpeg_emit_message;
  int failed = jpeg_encode_run(state, pixels, width, height, channels, quality);
  jpeg_destroy_compress(&state->cinfo);
  unsigned char *buffer = state->destination.buffer;
  size_t size = state->destination.size;
  free(state);
  if (failed) {
    free(buffer);
    return 1;
  }
  *out = buffer;
  *out_size = size;
  return 0;
}
