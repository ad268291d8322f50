/* PNG decoding and encoding with libpng's full API, errors turned into return codes.
 * Pattern: each public function owns the state that must survive a longjmp (buffers to free)
 * in its own frame and calls a static *_run function that does setjmp; so no local of the
 * setjmp frame is read after the jump (C11 7.13.2.1). */
#include "isn_image_shim.h"

#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char *error;
  size_t error_size;
} png_error_sink;

static void shim_png_error(png_structp png, png_const_charp message) {
  png_error_sink *sink = (png_error_sink *)png_get_error_ptr(png);
  snprintf(sink->error, sink->error_size, "%s", message);
  png_longjmp(png, 1);
}

static void shim_png_warning(png_structp png, png_const_charp message) {
  (void)png;
  (void)message; /* warnings (bad ancillary chunks and the like) are ignored, as PIL does */
}

/* ---- decoding ---- */

typedef struct {
  const unsigned char *data;
  size_t size;
  size_t position;
  png_error_sink sink;
  png_structp png;
  png_infop info;
  unsigned char *pixels;
  png_bytep *rows;
} png_decode_state;

static void shim_png_read(png_structp png, png_bytep out, size_t length) {
  png_decode_state *state = (png_decode_state *)png_get_io_ptr(png);
  if (length > state->size - state->position) {
    png_error(png, "unexpected end of file (truncated PNG)");
  }
  memcpy(out, state->data + state->position, length);
  state->position += length;
}

static int png_decode_run(png_decode_state *state, isn_decoded_image *out) {
  png_structp png = state->png;
  png_infop info = state->info;
  if (setjmp(png_jmpbuf(png))) {
    return 1;
  }
  png_set_read_fn(png, state, shim_png_read);
  png_read_info(png, info);

  int color_type = png_get_color_type(png, info);
  int bit_depth = png_get_bit_depth(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (bit_depth == 16) png_set_swap(png);
#endif
  (void)png_set_interlace_handling(png);
  png_read_update_info(png, info);

  png_uint_32 width = png_get_image_width(png, info);
  png_uint_32 height = png_get_image_height(png, info);
  int channels = png_get_channels(png, info);
  int depth = png_get_bit_depth(png, info);
  size_t rowbytes = png_get_rowbytes(png, info);
  if ((size_t)width * height > ISN_MAX_PIXELS) {
    png_error(png, "image too large");
  }
  if (channels < 1 || channels > 4 || (depth != 8 && depth != 16) ||
      rowbytes != (size_t)width * channels * (depth / 8)) {
    png_error(png, "unexpected sample layout after expansion");
  }
  state->pixels = (unsigned char *)malloc(rowbytes * height);
  state->rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
  if (!state->pixels || !state->rows) png_error(png, "out of memory");
  for (png_uint_32 y = 0; y < height; y++) state->rows[y] = state->pixels + y * rowbytes;
  png_read_image(png, state->rows);
  png_read_end(png, NULL);

  out->width = (int)width;
  out->height = (int)height;
  out->channels = channels;
  out->bit_depth = depth;
  return 0;
}

int isn_png_decode(const unsigned char *data, size_t size, isn_decoded_image *out, char *error, size_t error_size) {
  png_decode_state state;
  memset(&state, 0, sizeof state);
  memset(out, 0, sizeof *out);
  state.data = data;
  state.size = size;
  state.sink.error = error;
  state.sink.error_size = error_size;
  state.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state.sink, shim_png_error, shim_png_warning);
  if (state.png) state.info = png_create_info_struct(state.png);
  if (!state.png || !state.info) {
    snprintf(error, error_size, "out of memory");
    png_destroy_read_struct(state.png ? &state.png : NULL, NULL, NULL);
    return 1;
  }
  int failed = png_decode_run(&state, out);
  png_destroy_read_struct(&state.png, &state.info, NULL);
  free(state.rows);
  if (failed) {
    free(state.pixels);
    memset(out, 0, sizeof *out);
    return 1;
  }
  out->pixels = state.pixels;
  return 0;
}

/* ---- encoding ---- */

typedef struct {
  png_error_sink sink;
  png_structp png;
  png_infop info;
  unsigned char *buffer;
  size_t size;
  size_t capacity;
  png_bytep *rows;
} png_encode_state;

static void shim_png_write(png_structp png, png_bytep data, size_t length) {
  png_encode_state *state = (png_encode_state *)png_get_io_ptr(png);
  if (state->size + length > state->capacity) {
    size_t capacity = state->capacity ? state->capacity : 4096;
    while (capacity < state->size + length) capacity *= 2;
    unsigned char *grown = (unsigned char *)realloc(state->buffer, capacity);
    if (!grown) png_error(png, "out of memory");
    state->buffer = grown;
    state->capacity = capacity;
  }
  memcpy(state->buffer + state->size, data, length);
  state->size += length;
}

static void shim_png_flush(png_structp png) { (void)png; }

static int png_encode_run(png_encode_state *state, const void *pixels, int width, int height, int color_type,
                          int bit_depth, const unsigned char *palette_rgb, int palette_size,
                          const unsigned char *palette_alpha, int alpha_count) {
  png_structp png = state->png;
  png_infop info = state->info;
  if (setjmp(png_jmpbuf(png))) {
    return 1;
  }
  int channels;
  switch (color_type) {
  case PNG_COLOR_TYPE_GRAY: channels = 1; break;
  case PNG_COLOR_TYPE_PALETTE: channels = 1; break;
  case PNG_COLOR_TYPE_GRAY_ALPHA: channels = 2; break;
  case PNG_COLOR_TYPE_RGB: channels = 3; break;
  case PNG_COLOR_TYPE_RGB_ALPHA: channels = 4; break;
  default: png_error(png, "unknown PNG colour type");
  }
  if (width <= 0 || height <= 0) png_error(png, "image has no pixels");
  png_set_write_fn(png, state, shim_png_write, shim_png_flush);
  png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, bit_depth, color_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    if (!palette_rgb || palette_size < 1 || palette_size > 256) png_error(png, "palette must have 1...256 entries");
    png_color colors[256];
    for (int i = 0; i < palette_size; i++) {
      colors[i].red = palette_rgb[3 * i];
      colors[i].green = palette_rgb[3 * i + 1];
      colors[i].blue = palette_rgb[3 * i + 2];
    }
    png_set_PLTE(png, info, colors, palette_size);
    if (palette_alpha && alpha_count > 0) png_set_tRNS(png, info, palette_alpha, alpha_count, NULL);
  }
  png_write_info(png, info);
  if (bit_depth < 8) png_set_packing(png);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (bit_depth == 16) png_set_swap(png);
#endif
  size_t sample_bytes = bit_depth == 16 ? 2 : 1;
  size_t rowbytes = (size_t)width * channels * sample_bytes;
  state->rows = (png_bytep *)malloc(sizeof(png_bytep) * (size_t)height);
  if (!state->rows) png_error(png, "out of memory");
  for (int y = 0; y < height; y++) state->rows[y] = (png_bytep)pixels + (size_t)y * rowbytes;
  png_write_image(png, state->rows);
  png_write_end(png, NULL);
  return 0;
}

int isn_png_encode(const void *pixels, int width, int height, int color_type, int bit_depth,
                   const unsigned char *palette_rgb, int palette_size,
                   const unsigned char *palette_alpha, int alpha_count,
                   unsigned char **out, size_t *out_size, char *error, size_t error_size) {
  png_encode_state state;
  memset(&state, 0, sizeof state);
  *out = NULL;
  *out_size = 0;
  state.sink.error = error;
  state.sink.error_size = error_size;
  state.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state.sink, shim_png_error, shim_png_warning);
  if (state.png) state.info = png_create_info_struct(state.png);
  if (!state.png || !state.info) {
    snprintf(error, error_size, "out of memory");
    png_destroy_write_struct(state.png ? &state.png : NULL, NULL);
    return 1;
  }
  int failed = png_encode_run(&state, pixels, width, height, color_type, bit_depth, palette_rgb, palette_size,
                              palette_alpha, alpha_count);
  png_destroy_write_struct(&state.png, &state.info);
  free(state.rows);
  if (failed) {
    free(state.buffer);
    return 1;
  }
  *out = state.buffer;
  *out_size = state.size;
  return 0;
}

void isn_image_free(void *pointer) { free(pointer); }
