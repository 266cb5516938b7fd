// DataFormats.h: the data files dlspec reads, by one set of readers that `dlspec check --data` (checker/data)
// and the executable's loader (runtime/data) both use: what the check accepts, the executable loads, and
// what one refuses the other refuses. Whole files, raw or gzip (zlib); IDX (big-endian header 0x00 0x00
// type ndims, then ndims u32 sizes, then the data); NumPy .npy (format 1.0, 2.0 and 3.0 headers, little-endian
// |u1 <i4 <i8 <f4 <f8, C order); CSV is CsvTable.h. No dependency on the compiler or the rest of the runtime:
// a reader never throws and never prints, it returns a structured Error (what went wrong and where) that each
// side turns into its own diagnostic (D-codes in check, R-codes at run time).
#ifndef DLSPEC_DATA_FORMATS_H
#define DLSPEC_DATA_FORMATS_H
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dls::data {

// A byte range read by the header parsers (a file read whole, or a mapping of one).
struct Bytes {
  const uint8_t* p = nullptr;
  size_t n = 0;
  size_t size() const { return n; }
  const uint8_t* data() const { return p; }
  uint8_t operator[](size_t i) const { return p[i]; }
};

struct Error {
  enum class Kind {
    None,
    Unreadable,  // the file cannot be opened or read, or is not a regular file (`what` says why)
    Gzip,        // a damaged gzip stream (`offset`: compressed byte offset; `what`: zlib's message)
    TooLarge,    // inflates to more than the cap (`offset`: compressed byte offset)
    Truncated,   // the file ends before what its header promises (`size` bytes of `expected`)
    BadMagic,    // not this format at all (`offset` 0; IDX: `magic` holds the first 4 bytes)
    BadHeader,   // a malformed header (`offset`: the byte the defect was found at)
    BadDtype,    // an element type no reader handles (`detail`: the type as the file spells it)
    Trailing,    // bytes after what the header describes, or after the gzip stream (`offset`: the first of
                 // them; `size`: the file's bytes; `expected`: the bytes the header accounts for)
  } kind = Kind::None;
  std::string what;      // the problem in words, without the file name or the offset
  size_t offset = 0;     // byte offset in the file the problem was found at
  size_t size = 0;       // Truncated: the bytes there are
  size_t expected = 0;   // Truncated: the bytes the header promises
  uint32_t magic = 0;    // IDX BadMagic: the first four bytes, big-endian
  std::string detail;    // BadDtype: the element type's spelling
  explicit operator bool() const { return kind != Kind::None; }
};

enum class Elem { U8, I8, I16, I32, I64, F32, F64 };
const char* elemName(Elem e);  // "u8", "i8", "i16", "i32", "i64", "f32", "f64"
size_t elemSize(Elem e);
// The element at `p` (elemSize(e) bytes in the host's byte order) as a double.
double elemValue(Elem e, const uint8_t* p);
inline bool isFloat(Elem e) { return e == Elem::F32 || e == Elem::F64; }

// One decoded array file: its shape and its elements in this machine's byte order.
struct Array {
  std::vector<int64_t> shape;
  Elem elem = Elem::U8;
  std::vector<uint8_t> bytes;  // numel() × elemSize(elem)
  size_t numel() const { return bytes.size() / elemSize(elem); }
  double at(size_t i) const;   // element i as a double
};

// The whole file, gunzipped when it starts with the gzip magic (one gzip member, or several concatenated;
// anything else after the last member is Trailing); only regular files are read (a FIFO, a
// device or a directory is refused before a byte is read). `cap` bounds a gzip file's inflated size (0: half
// of this machine's memory), so that a gzip bomb ends as an error.
bool readFile(const std::string& path, std::vector<uint8_t>& out, Error& err, size_t cap = 0);
// IDX: element types u8 (0x08), i8 (0x09), i16 (0x0B), i32 (0x0C), f32 (0x0D), f64 (0x0E), 1 to 4 dims;
// exactly the bytes the dims describe (fewer: Truncated, more: Trailing).
bool parseIdx(const std::vector<uint8_t>& file, Array& out, Error& err);
// NumPy .npy; every header defect is reported with the byte offset it was found at. The header is what
// NumPy writes: its declared length ends it with a newline, and the data begins at a multiple of 64 bytes;
// a length off by one, a header not padded so, or bytes after the data the shape describes are refused.
bool parseNpy(const std::vector<uint8_t>& file, Array& out, Error& err);
// Where an IDX or .npy file's elements are: its header checked as parseIdx / parseNpy check it, the file's size
// included (`p`, `n`: the whole file, or the mapping of it), without copying the elements.
struct ArrayLayout {
  std::vector<int64_t> shape;
  Elem elem = Elem::U8;
  size_t dataOffset = 0;   // the first element's byte
  bool bigEndian = false;  // IDX: elements are big-endian in the file
};
bool idxLayout(const uint8_t* p, size_t n, ArrayLayout& out, Error& err);
bool npyLayout(const uint8_t* p, size_t n, ArrayLayout& out, Error& err);

// An uncompressed IDX or .npy file mapped read-only (PROT_READ, MAP_SHARED: never written) with its layout
// checked; element i is read in place. A gzip file cannot be mapped: mapArray returns false with `gzip` set and
// no error (the caller reads it whole with readFile). Only regular files are mapped.
class MappedArray {
 public:
  MappedArray() = default;
  MappedArray(const MappedArray&) = delete;
  MappedArray& operator=(const MappedArray&) = delete;
  ~MappedArray();
  const ArrayLayout& layout() const { return layout_; }
  size_t fileBytes() const { return size_; }
  size_t numel() const;
  double at(size_t i) const;  // element i (file order) as a double, as Array::at gives it
  // The file's size now (fstat on the descriptor held open): a file cut short after it was mapped would make
  // a read of its lost pages end the process (SIGBUS), so readers check it before each batch.
  size_t currentBytes() const;
  // Drops the mapped pages from this process (MADV_DONTNEED; the page cache keeps them): what a batch read stays
  // resident until the next batch releases it. Safe while other threads read it: they fault the pages in again.
  void release() const;
  friend bool mapArray(const std::string& path, bool idx, MappedArray& out, Error& err, bool& gzip);

 private:
  ArrayLayout layout_;
  const uint8_t* base_ = nullptr;
  size_t size_ = 0;
  int fd_ = -1;
};
bool mapArray(const std::string& path, bool idx, MappedArray& out, Error& err, bool& gzip);

// The host memory a split read per batch holds besides its labels and index (runtime/data/Stream.h), as the
// executable counts it and `dlspec summary --data` shows it: the loader's queue of `depth` batches of `rows` rows
// (`rowElems` sample and `labelElems` label elements each, 4 bytes an element), a sample read (`readElems`) and
// converted (`sampleElems`) per pool thread, and the file's pages `depth` batches touch (`fileBytesPerSample` each,
// and a page at each end).
uint64_t streamBuffers(int depth, int64_t rows, int64_t rowElems, int64_t labelElems, int threads, int64_t readElems,
                       int64_t sampleElems, uint64_t fileBytesPerSample);

// readFile + parseIdx / parseNpy.
bool readIdx(const std::string& path, Array& out, Error& err);
bool readNpy(const std::string& path, Array& out, Error& err);

}  // namespace dls::data
#endif
