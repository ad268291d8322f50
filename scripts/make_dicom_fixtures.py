#!/usr/bin/env python3
"""Writes the small DICOM files in Tests/Fixtures/dicom (needs pydicom and numpy; the tests
do not). Each is a 6x5 monochrome image whose stored values are a known ramp, so the tests
can compute the expected display values from the header fields alone.

  mono2_8bit.dcm        8-bit MONOCHROME2, no rescale, no window (min-max display)
  mono2_16bit_window.dcm 16-bit unsigned, 12 bits stored (high bits set to garbage that
                        must be masked), rescale slope 2 intercept -1024, window 0 / 400
  mono1_12bit.dcm       MONOCHROME1 (inverted), 12 bits stored, no window
  signed_16bit.dcm      signed 16-bit (pixel representation 1), intercept 0, window 10 / 20
  multivalue_window.dcm window centre and width with two values each (the first counts)
  jpeg2000_damaged.dcm  declares JPEG 2000 (encapsulated) but holds bytes no codec decodes
  not_an_image.dcm      a valid DICOM data set without pixel data

Run: python3 scripts/make_dicom_fixtures.py [OUT] (default Tests/Fixtures/dicom).
"""
import sys
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, SecondaryCaptureImageStorage, generate_uid

out = Path(sys.argv[1] if len(sys.argv) > 1 else "Tests/Fixtures/dicom")
out.mkdir(parents=True, exist_ok=True)
ROWS, COLS = 6, 5


def base(transfer_syntax=ExplicitVRLittleEndian):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["isnetc fixture"])
    meta.TransferSyntaxUID = transfer_syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.PatientName = "Fixture^Synthetic"
    ds.Rows, ds.Columns = ROWS, COLS
    ds.SamplesPerPixel = 1
    return ds


def image(ds, values, bits_allocated, bits_stored, signed, photometric="MONOCHROME2"):
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    dtype = {(8, False): np.uint8, (16, False): np.uint16, (16, True): np.int16}[(bits_allocated, signed)]
    ds.PixelData = np.asarray(values, dtype=dtype).reshape(ROWS, COLS).tobytes()
    return ds


ramp = np.arange(ROWS * COLS)

ds = image(base(), ramp * 8, 8, 8, False)
ds.save_as(out / "mono2_8bit.dcm", enforce_file_format=True)

ds = base()
stored = ramp * 100 + 300                       # 300 … 3200, within 12 bits
image(ds, stored | 0xF000, 16, 12, False)       # garbage in the 4 high bits
ds.RescaleSlope, ds.RescaleIntercept = 2, -1024
ds.WindowCenter, ds.WindowWidth = 0, 400
ds.save_as(out / "mono2_16bit_window.dcm", enforce_file_format=True)

ds = image(base(), ramp * 130, 16, 12, False, photometric="MONOCHROME1")
ds.save_as(out / "mono1_12bit.dcm", enforce_file_format=True)

ds = image(base(), ramp - 15, 16, 16, True)
ds.WindowCenter, ds.WindowWidth = 10, 20
ds.save_as(out / "signed_16bit.dcm", enforce_file_format=True)

ds = image(base(), ramp * 8, 8, 8, False)
ds.WindowCenter, ds.WindowWidth = [100, 50], [80, 200]
ds.save_as(out / "multivalue_window.dcm", enforce_file_format=True)

ds = base(JPEG2000Lossless)
ds.PhotometricInterpretation = "MONOCHROME2"
ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + bytes(range(60))])
ds["PixelData"].VR = "OB"
ds["PixelData"].is_undefined_length = True
ds.save_as(out / "jpeg2000_damaged.dcm", enforce_file_format=True)

ds = base()
del ds.Rows, ds.Columns, ds.SamplesPerPixel
ds.save_as(out / "not_an_image.dcm", enforce_file_format=True)

print("wrote", ", ".join(sorted(p.name for p in out.glob("*.dcm"))))
