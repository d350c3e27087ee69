"""What leaves the program: the PDF report, DICOM SEG/SR, de-identification, lesion labels."""
