// DCMTK behind isn_dicom.h: parses the data set from memory (every element length checked
// against the bytes present), decompresses the pixel data with DCMTK's codecs (JPEG,
// JPEG-LS, RLE) when the transfer syntax is compressed, and returns modality values as
// floats. Every DCMTK failure, and every C++ exception, becomes an error message: nothing
// escapes into Swift.
#include "isn_dicom.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace {

void say(char *error, size_t size, const std::string &message) {
  if (size > 0) std::snprintf(error, size, "%s", message.c_str());
}

/// Registers the decompression codecs once and silences DCMTK's own logging (errors come
/// back as conditions and are reported by the caller).
void prepare() {
  static std::once_flag once;
  std::call_once(once, [] {
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
  });
}

/// An integer attribute, or `fallback` when it is absent.
long integer(DcmDataset *ds, const DcmTagKey &tag, long fallback) {
  Uint16 value = 0;
  return ds->findAndGetUint16(tag, value).good() ? value : fallback;
}

/// The first value of a decimal-string attribute.
bool decimal(DcmDataset *ds, const DcmTagKey &tag, double *value) {
  Float64 parsed = 0;
  if (ds->findAndGetFloat64(tag, parsed, 0).bad()) return false;
  *value = parsed;
  return true;
}

}  // namespace

extern "C" int isn_dicom_decode(const unsigned char *bytes, size_t length, isn_dicom_info *info,
                                float **values, char *error, size_t error_size) {
  *values = nullptr;
  try {
    prepare();
    DcmInputBufferStream stream;
    stream.setBuffer(bytes, static_cast<offile_off_t>(length));
    stream.setEos();
    DcmFileFormat file;
    file.transferInit();
    OFCondition status = file.read(stream);
    file.transferEnd();
    if (status.bad()) {
      say(error, error_size, std::string("not a readable DICOM file (") + status.text() + ")");
      return 1;
    }
    DcmDataset *ds = file.getDataset();
    std::memset(info, 0, sizeof *info);
    DcmXfer original(ds->getOriginalXfer());
    std::snprintf(info->transfer_syntax, sizeof info->transfer_syntax, "%s", original.getXferName());
    OFString photometric;
    ds->findAndGetOFString(DCM_PhotometricInterpretation, photometric);
    std::snprintf(info->photometric, sizeof info->photometric, "%s", photometric.c_str());
    info->rows = static_cast<int>(integer(ds, DCM_Rows, 0));
    info->columns = static_cast<int>(integer(ds, DCM_Columns, 0));
    info->samples_per_pixel = static_cast<int>(integer(ds, DCM_SamplesPerPixel, 1));
    info->bits_allocated = static_cast<int>(integer(ds, DCM_BitsAllocated, 0));
    info->bits_stored = static_cast<int>(integer(ds, DCM_BitsStored, info->bits_allocated));
    info->is_signed = integer(ds, DCM_PixelRepresentation, 0) == 1;
    info->monochrome1 = photometric == "MONOCHROME1";
    info->slope = 1;
    info->intercept = 0;
    decimal(ds, DCM_RescaleSlope, &info->slope);
    decimal(ds, DCM_RescaleIntercept, &info->intercept);
    double center = 0, width = 0;
    if (decimal(ds, DCM_WindowCenter, &center) && decimal(ds, DCM_WindowWidth, &width) && width > 0) {
      info->has_window = 1;
      info->window_center = center;
      info->window_width = width;
    }

    if (!ds->tagExists(DCM_PixelData)) {
      say(error, error_size, "the file holds no image (no pixel data)");
      return 1;
    }
    if (info->rows <= 0 || info->columns <= 0) {
      say(error, error_size, "the image has no rows or columns");
      return 1;
    }
    if (info->samples_per_pixel != 1 || (photometric != "MONOCHROME1" && photometric != "MONOCHROME2")) {
      say(error, error_size, "only monochrome DICOM images are supported (photometric interpretation '" +
                                 std::string(photometric.c_str()) + "', samples per pixel " +
                                 std::to_string(info->samples_per_pixel) + ")");
      return 1;
    }
    if ((info->bits_allocated != 8 && info->bits_allocated != 16) || info->bits_stored < 1 ||
        info->bits_stored > info->bits_allocated) {
      say(error, error_size, "unsupported sample size: " + std::to_string(info->bits_allocated) + " bits allocated, " +
                                 std::to_string(info->bits_stored) + " stored (8 to 16 are supported)");
      return 1;
    }
    if (original.isEncapsulated() && ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr).bad()) {
      say(error, error_size, std::string("cannot decode the pixel data (transfer syntax ") + info->transfer_syntax +
                                 "): compressed data without a codec here, or damaged");
      return 1;
    }
    const size_t frame = static_cast<size_t>(info->rows) * static_cast<size_t>(info->columns);
    DcmElement *pixels = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, pixels).bad() || pixels == nullptr) {
      say(error, error_size, "cannot read the pixel data");
      return 1;
    }
    const Uint8 *bytes8 = nullptr;
    const Uint16 *words = nullptr;
    const unsigned long available = pixels->getLength();
    const unsigned long needed = frame * static_cast<unsigned long>(info->bits_allocated / 8);
    bool read = info->bits_allocated == 8 ? pixels->getUint8Array(const_cast<Uint8 *&>(bytes8)).good()
                                          : pixels->getUint16Array(const_cast<Uint16 *&>(words)).good();
    if (!read || available < needed || (bytes8 == nullptr && words == nullptr)) {
      say(error, error_size, "the pixel data holds " + std::to_string(available) + " bytes, the image needs " +
                                 std::to_string(needed));
      return 1;
    }
    float *out = static_cast<float *>(std::malloc(frame * sizeof(float)));
    if (!out) {
      say(error, error_size, "out of memory");
      return 1;
    }
    // Stored values keep only their bits_stored low bits (the rest may hold overlays),
    // sign-extended from the highest stored bit for signed data.
    const int stored = info->bits_stored;
    const long mask = stored >= 32 ? -1L : (1L << stored) - 1;
    for (size_t i = 0; i < frame; i++) {
      long raw = (bytes8 ? static_cast<long>(bytes8[i]) : static_cast<long>(words[i])) & mask;
      if (info->is_signed && (raw & (1L << (stored - 1)))) raw -= (1L << stored);
      out[i] = static_cast<float>(static_cast<double>(raw) * info->slope + info->intercept);
    }
    *values = out;
    return 0;
  } catch (const std::exception &e) {
    say(error, error_size, std::string("DICOM reader failed: ") + e.what());
  } catch (...) {
    say(error, error_size, "DICOM reader failed");
  }
  return 1;
}

extern "C" void isn_dicom_free(float *values) { std::free(values); }
