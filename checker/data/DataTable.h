// DataTable: one split of a data set as read by `dlspec check --data`: every sample's bytes (for hashing),
// CSV features as numbers, and the labels. The files are parsed by the readers the runtime uses too
// (runtime/data/formats: DataFormats.h, CsvTable.h); what is here is what the data rules need on top of
// them. Readers never throw: a problem is returned as text with the byte or line it concerns.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "CsvTable.h"
#include "DataFormats.h"

namespace dls::checker::data {

struct DataTable {
  std::string file;                 // the samples' file (as written in the spec)
  std::string labelFile;            // where the labels came from (IDX: second file; CSV: same file)
  int64_t rows = 0;
  size_t rowBytes = 0;              // bytes per sample in `raw`
  std::vector<uint8_t> raw;         // rows × rowBytes
  std::vector<int64_t> sampleDims;  // IDX: per-sample dims from the header
  std::vector<std::string> columns; // CSV feature columns (label excluded)
  std::vector<double> values;       // CSV: rows × columns.size()
  std::vector<int64_t> labels;      // rows × labelsPerRow: one per row, or one per step of a sequence
  std::vector<double> rawLabels;    // CSV and float NPY: labels as read (NaN kept), laid out as `labels`
  std::vector<int64_t> labelDims;   // IDX/NPY: the label file's dims after the sample axis ([] for (n,))
  int64_t labelsPerRow = 1;         // product of labelDims: 1, or T for `class<C>[T]` labels of shape (n, T)
  std::vector<int64_t> lineOf;      // CSV: 1-based line of each row
  char sampleKind = 'u';            // IDX/NPY element type: 'u' u8, 'b' i8, 's' i16, 'i' i32, 'l' i64, 'f' f32, 'd' f64
  size_t elemSize = 1;
  bool csv = false;
  std::vector<std::string> header;  // CSV: the header row's names
  bool noLabelColumn = false;       // CSV: the named label column is not in the header (readCsv failed)
  std::vector<std::string> fileOf;  // images: the file of each row
  std::vector<std::string> classNames;  // images: the class folders, sorted
  // CSV categorical columns (`categorical:`): their 0-based columns, their values (the training split's), and the
  // first cell whose value is not among them (line 0: none).
  std::vector<int64_t> categoricalColumns;
  std::vector<std::vector<std::string>> categories;
  struct Unknown { int64_t line = 0, column = 0; std::string value; size_t which = 0; } unknown;
  // CSV columns of text that `categorical:` does not name (readCsv fails): the column, its distinct values, the
  // first value and its line.
  struct TextColumn { int64_t column = 0; int64_t distinct = 0; std::string first; int64_t line = 0; };
  std::vector<TextColumn> textColumns;
  // CSV: the file failed on a categorical column of its own (not there, or a cell that names no category), which the
  // lowering reports for the training split when the program is built (E0631, E0635).
  bool categoricalDefect = false;
  // CSV `label_file:`: its record count when it is not the samples' (-1: it is, or there is none).
  int64_t labelFileRows = -1;
  std::string recordName(int64_t row) const;  // "record 17" / "line 18"
};

// The shared readers' error (DataFormats.h) as the checker's text: "byte N: why" for a defect in a file's
// contents, "damaged gzip stream at byte N: why", "cannot read it: why".
std::string describe(const dls::data::Error& e);
// IDX (raw or gzip): images file + labels file, whose first dim counts the images (labels (n,) or, per step,
// (n, T)). Returns false and sets `error` on a damaged file.
bool readIdx(const std::string& images, const std::string& labels, DataTable& out, std::string& error);
// NPY samples file + labels file (labels: shape (n, ...), integer or float; `labelDims` keeps the dims after n,
// and whether they fit the declared label is the caller's question: (n,) for one label per sample, (n, T)
// for one per step).
bool readNpy(const std::string& samples, const std::string& labels, DataTable& out, std::string& error);
// CSV with a header line; `labelColumn` names the label column (default: the last column).
bool readCsv(const std::string& path, const std::string& labelColumn, DataTable& out, std::string& error);
// The same with the file's layout (header, preamble lines, separator) and the label column by index or name.
// `several`: more than one label column (names, "#K" for index K), real-valued targets laid out per row;
// `impute`: missing cells of the feature columns (read as NaN: layout.missing) take this file's column mean,
// median or zero, as the executable fills them with the training split's.
// `vocab`: the categorical columns' values to encode them by (layout.categorical's; null: this file's own);
// `labelFile`: the labels are the records of this file instead of columns of the first.
bool readCsv(const std::string& path, const csv::Layout& layout, const csv::LabelColumn& label, DataTable& out,
             std::string& error, const std::vector<std::string>& several = {}, csv::Impute impute = csv::Impute::None,
             const std::vector<std::vector<std::string>>* vocab = nullptr, const std::string& labelFile = {});
// The values of the categorical columns of a CSV file (layout.categorical), sorted: false with `error` otherwise.
bool csvCategories(const std::string& path, const csv::Layout& layout, std::vector<std::vector<std::string>>& vocab,
                   std::string& error);

// An images("DIR") source as the executable reads it (Images.h): the sample's channels, height and width,
// and what the source says to do with other images (0: nothing, they are refused).
struct ImageSpec {
  int64_t channels = 1, height = 0, width = 0;
  int64_t convertTo = 0;          // `channels:`
  int64_t resizeH = 0, resizeW = 0;  // `size:`
  int32_t resize = 0;             // dls::data::Resize
};
// What reading an image folder found besides the samples: every file that cannot be decoded, every image of
// another size or channel count than the sample without `size:`/`channels:`, empty class folders, and images
// that are (nearly) constant after conversion and resizing (every pixel within 2 grey levels).
struct ImageFindings {
  std::vector<std::pair<std::string, std::string>> undecodable;  // file, why
  std::vector<std::string> misfit;                                // files of another size / channel count
  std::string firstMisfit;                                        // "[h, w] with c channel(s)"
  int64_t misfitShapes = 0;                                       // distinct sizes/channel counts among them
  std::vector<std::string> emptyClasses;
  std::vector<int64_t> constantRows;                              // rows of the table
  int lowConstant = 0, highConstant = 0;                          // the first constant image's pixel range
};
// Lists and decodes `dir`; the rows are the images that decoded and fit. False (and `error`) when the folder
// cannot be listed.
bool readImages(const std::string& dir, const ImageSpec& spec, DataTable& out, ImageFindings& found, std::string& error);

// A look at an image folder for `dlspec init`: its classes and image counts, and up to `maxImages` images spread
// evenly over it decoded: the most common size and channel count among them, how many other shapes there were,
// and the mean and standard deviation of their pixels scaled to [0, 1] (over the images of the common shape).
struct ImageSurvey {
  std::vector<std::string> classes;
  std::vector<int64_t> perClass;
  int64_t images = 0, decoded = 0, undecodable = 0;
  int64_t height = 0, width = 0, channels = 0;  // the most common shape among the decoded images
  int64_t otherShapes = 0;                      // decoded images of another shape
  double mean = 0, std = 1;
};
bool surveyImages(const std::string& dir, int64_t maxImages, ImageSurvey& out, std::string& error);

}  // namespace dls::checker::data
