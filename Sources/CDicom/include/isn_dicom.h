// A C interface to DCMTK (Debian's libdcmtk): decodes the first frame of a DICOM image into
// modality values (stored value × rescale slope + intercept), with what display needs: the
// photometric interpretation and the file's window, when it has one. C, so that Swift can
// call it; DCMTK itself is C++.
#ifndef ISN_DICOM_H
#define ISN_DICOM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int rows;
  int columns;
  int samples_per_pixel;   // 1: monochrome
  int bits_allocated;
  int bits_stored;
  int is_signed;           // pixel representation 1
  double slope;            // rescale slope, 1 when absent
  double intercept;        // rescale intercept, 0 when absent
  int monochrome1;         // 1: the lowest value is white
  int has_window;          // window centre and width present and width > 0
  double window_center;
  double window_width;
  char photometric[32];
  char transfer_syntax[96];
} isn_dicom_info;

/// Decodes the DICOM file held in `bytes` (the first frame). On success returns 0, fills
/// `info` and sets `*values` to rows × columns × samples_per_pixel modality values (row by
/// row, samples interleaved), to be released with isn_dicom_free. On failure returns 1 and
/// writes a message into `error` (at most `error_size` bytes, NUL-terminated).
int isn_dicom_decode(const unsigned char *bytes, size_t length, isn_dicom_info *info, float **values,
                     char *error, size_t error_size);

void isn_dicom_free(float *values);

#ifdef __cplusplus
}
#endif

#endif
