// Dataset.h: one split held in memory, as float samples plus class labels (or float targets), and the
// readers that fill it. Every reader validates what it reads and reports problems as R02xx diagnostics
// naming the file and the byte offset, line or record.
#ifndef DLSPEC_RUNTIME_DATA_DATASET_H
#define DLSPEC_RUNTIME_DATA_DATASET_H
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/Runtime.h"

namespace dls::csv {  // data/formats/CsvTable.h
struct Layout;
struct Table;
}  // namespace dls::csv

namespace dls {

struct Stream;  // Stream.h: the samples of a split read per batch

struct Dataset {
  std::string name;            // "train", "valid", "test", or a file name for predict
  std::string label_path;      // the file the labels come from (diagnostics)
  int64_t n = 0;               // samples
  int64_t dims[4] = {1, 1, 1, 1};
  int32_t rank = 1;
  int64_t sample_numel = 1;
  std::vector<float> x;        // n * sample_numel
  std::vector<int32_t> labels; // n * label_numel (classification)
  int64_t label_numel = 1;     // class labels per sample (T: one per step of a sequence)
  std::vector<float> targets;  // n * target_numel (regression: classes == 0)
  int64_t target_numel = 0;
  std::vector<std::string> files;  // predict on image files: the file of each sample
  // A data set with several sample fields (DataDecl::fields): the fields after the first, each a Dataset of its own
  // samples only (name = the field's name, x, dims, rank, sample_numel, n), record i of each being sample i's.
  std::vector<Dataset> fields = {};
  // Read per batch (Stream.h): `x` stays empty and read_sample() gives sample i; labels and targets are held.
  std::shared_ptr<Stream> stream;
};

// A decoded array file (IDX or NPY): shape and values as float (exact for integers below 2^24).
struct Array {
  std::vector<int64_t> shape;
  std::vector<double> values;  // double so that i64 labels and NaN checks survive
  std::string elem;            // the file's element type: u8, i8, i16, i32, i64, f32, f64 ("" for CSV text)
};

// Whole file, gunzipped when it starts with the gzip magic. R0201 / R0202.
std::vector<uint8_t> read_file(const std::string& path);
Array read_idx(const std::string& path);   // R0203, R0204
Array read_npy(const std::string& path);   // R0203, R0210, R0211
// CSV with a header row: rows of numeric cells. R0206, R0207.
// `header`, when given, receives the header row's cell names.
Array read_csv(const std::string& path, int64_t* columns, std::vector<std::string>* header = nullptr);
// The same laid out as `layout` says; `t` keeps the header and each record's line (its values move to the Array).
Array read_csv(const std::string& path, const csv::Layout& layout, csv::Table& t);

// Loads the split declared in `decl` (checking the declared sample shape and the label range).
Dataset load_dataset(const DataDecl& decl, const std::string& split_name);
// Loads bare samples for `predict` (IDX or .npy by extension), checking the sample shape against `decl`.
Dataset load_samples(const std::string& path, const DataDecl& decl);
// An images("DIR") split: class sub-folders of PNG/JPEG files decoded on `threads` threads, resized and
// converted as the declaration says. R0201, R0213, R0220, R0221, R0222.
Dataset load_images(const DataDecl& decl, const std::string& split_name, int threads);
// Images for `predict`: one image file, or a folder's image files (its own, then its class folders'), sorted.
Dataset load_image_files(const std::string& path, const DataDecl& decl, int threads);
// A text("FILE") split: windows of decl.text_seq token ids with the next token's id per step. R0201,
// R0213, R0223, R0224.
Dataset load_text(const DataDecl& decl, const std::string& split_name);
// The class sub-folders of an image folder, sorted (empty when it cannot be listed).
std::vector<std::string> image_classes(const std::string& dir);
// The further sample fields of `ds` (decl.fields): field k's samples from files[k - 1] (IDX or .npy), checked against
// the field's declared shape and type; each must hold ds.n records, as `first_file` (the first field's) does (R0255).
void load_field_samples(Dataset& ds, const std::vector<std::string>& files, const DataDecl& decl, const std::string& first_file);
// Takes `fraction` of `train` out as a validation split, deterministic by seed.
Dataset split_off(Dataset& train, double fraction, uint64_t seed);

}  // namespace dls
#endif
