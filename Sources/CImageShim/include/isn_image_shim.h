/* isn_image_shim: setjmp-based wrappers around libpng and libjpeg for ImageIO.
 *
 * Both libraries report fatal errors by longjmp (libpng) or by an error_exit callback that must
 * not return (libjpeg); Swift frames cannot be unwound by longjmp, so every call into the
 * libraries happens here, in C, and errors come back as a nonzero return code plus a message.
 * Only plain C types cross this header; Swift never sees png.h or jpeglib.h. */
#ifndef ISN_IMAGE_SHIM_H
#define ISN_IMAGE_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest number of pixels (width * height) a decoder accepts (guards against memory bombs). */
#define ISN_MAX_PIXELS ((size_t)1 << 28)

/* A decoded image: interleaved samples, rows top to bottom, no row padding. */
typedef struct isn_decoded_image {
  int width;
  int height;
  int channels;  /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
  int bit_depth; /* 8 (unsigned char samples) or 16 (native-endian unsigned short samples) */
  void *pixels;  /* malloc'ed; release with isn_image_free */
} isn_decoded_image;

/* Decodes a PNG from memory without any gamma or colour transformation (the stored sample
 * values, as PIL and torchvision read them): palette expanded to RGB, gray of 1/2/4 bits
 * scaled to 8, tRNS turned into an alpha channel, 16-bit kept as 16-bit.
 * Returns 0 on success; otherwise nonzero, with a NUL-terminated message in `error`. */
int isn_png_decode(const unsigned char *data, size_t size, isn_decoded_image *out, char *error, size_t error_size);

/* Decodes a baseline or progressive JPEG from memory into 8-bit gray (1 channel) or RGB
 * (3 channels); CMYK/YCCK files are refused. A file that ends early is an error. */
int isn_jpeg_decode(const unsigned char *data, size_t size, isn_decoded_image *out, char *error, size_t error_size);

/* Releases the pixels of a decoded image, or a buffer returned by an encoder. */
void isn_image_free(void *pointer);

/* PNG colour types, as in the PNG specification. */
#define ISN_PNG_GRAY 0
#define ISN_PNG_RGB 2
#define ISN_PNG_PALETTE 3
#define ISN_PNG_GRAY_ALPHA 4
#define ISN_PNG_RGBA 6

/* Encodes interleaved samples as a non-interlaced PNG in memory. `bit_depth`: 8 or 16 for every
 * colour type (16-bit samples native-endian unsigned short), or 1/2/4 for gray and palette (one
 * unsigned char per sample, packed by the encoder). A palette image takes `palette_rgb`
 * (3 * palette_size bytes) and optionally `palette_alpha` (alpha_count bytes, a tRNS chunk).
 * On success *out (malloc'ed, release with isn_image_free) and *out_size are set. */
int isn_png_encode(const void *pixels, int width, int height, int color_type, int bit_depth,
                   const unsigned char *palette_rgb, int palette_size,
                   const unsigned char *palette_alpha, int alpha_count,
                   unsigned char **out, size_t *out_size, char *error, size_t error_size);

/* Encodes 8-bit gray (channels 1), RGB (channels 3) or CMYK (channels 4, for tests of the
 * decoder's refusal) samples as a baseline JPEG with the given quality (1...100, libjpeg's
 * scale) in memory; output as for isn_png_encode. */
int isn_jpeg_encode(const unsigned char *pixels, int width, int height, int channels, int quality,
                    unsigned char **out, size_t *out_size, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
