// `dlspec check --data` and the executable read data files with the same readers (runtime/data/formats):
// the same good and damaged files go to both, and both must accept the same ones and refuse the same ones,
// each with its own code (the checker's text for D0106, the runtime's R02xx).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <cstring>
#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>
#include <zlib.h>

#include "checker/data/DataTable.h"
#include "core/Diagnostics.h"
#include "data/Dataset.h"

namespace fs = std::filesystem;

namespace {

fs::path dir() {
  static fs::path d = [] {
    fs::path p = fs::temp_directory_path() / ("dlspec-data-agreement-" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return d;
}

std::string write(const std::string& name, const std::string& bytes) {
  fs::path p = dir() / name;
  std::ofstream(p, std::ios::binary) << bytes;
  return p.string();
}

std::string gzip(const std::string& raw) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, raw.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string idx(uint8_t type, const std::vector<uint32_t>& dims, const std::string& data) {
  std::string s{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims)
    for (int k = 3; k >= 0; --k) s += static_cast<char>((d >> (8 * k)) & 0xff);
  return s + data;
}

std::string npy(const std::string& dict, const std::string& data) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string s("\x93NUMPY\x01\x00", 8);
  s += static_cast<char>(h.size() & 0xff);
  s += static_cast<char>(h.size() >> 8);
  return s + h + data;
}

std::string f32(std::vector<float> v) { return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4); }

enum class Format { Idx, Npy, Csv };

struct Case {
  const char* what;
  Format format;
  std::string file;   // the file under test (samples, or the CSV)
  std::string other;  // the good labels file paired with it (IDX, NPY)
  bool accept;        // what both must answer
  dls::Diag runtimeCode = dls::Diag::R0001;  // the runtime's code for a refused file
};

// The checker's answer: the table `dlspec check --data` builds, or the D0106 text.
bool checkerAccepts(const Case& c, std::string& why) {
  dls::checker::data::DataTable t;
  switch (c.format) {
    case Format::Idx: return dls::checker::data::readIdx(c.file, c.other, t, why);
    case Format::Npy: return dls::checker::data::readNpy(c.file, c.other, t, why);
    case Format::Csv: return dls::checker::data::readCsv(c.file, "label", t, why);
  }
  return false;
}

// The runtime's answer: the array the executable loads, or the R02xx fault.
bool runtimeAccepts(const Case& c, dls::Diag& code, std::string& why) {
  try {
    int64_t cols = 0;
    switch (c.format) {
      case Format::Idx: (void)dls::read_idx(c.file); (void)dls::read_idx(c.other); break;
      case Format::Npy: (void)dls::read_npy(c.file); (void)dls::read_npy(c.other); break;
      case Format::Csv: (void)dls::read_csv(c.file, &cols); break;
    }
    return true;
  } catch (const dls::Fault& f) {
    code = f.code;
    why = f.message + " [at " + f.where + "]";
    return false;
  }
}

}  // namespace

TEST_CASE("check --data and the runtime accept and refuse the same data files") {
  using dls::Diag;
  const std::string images = idx(0x08, {3, 2, 2}, std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c", 12));
  const std::string idxLabels = write("labels.idx", idx(0x08, {3}, std::string("\x00\x01\x02", 3)));
  const std::string samples = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", f32({1, 2, 3, 4, 5, 6}));
  const std::string npyLabels =
      write("labels.npy", npy("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", std::string("\x00\x01\x02", 3)));
  std::string gz = gzip(images);
  const std::vector<Case> cases = {
      {"good IDX", Format::Idx, write("good.idx", images), idxLabels, true},
      {"good gzip IDX", Format::Idx, write("good.idx.gz", gz), idxLabels, true},
      {"good f32 IDX", Format::Idx, write("f32.idx", idx(0x0D, {3, 1}, std::string(12, '\0'))), idxLabels, true},
      {"truncated IDX", Format::Idx, write("short.idx", images.substr(0, images.size() - 3)), idxLabels, false, Diag::R0203},
      {"truncated IDX header", Format::Idx, write("short-header.idx", images.substr(0, 9)), idxLabels, false, Diag::R0203},
      {"IDX wrong magic", Format::Idx, write("magic.idx", "\x01\x02" + images.substr(2)), idxLabels, false, Diag::R0204},
      {"IDX unknown element type", Format::Idx, write("type.idx", idx(0x07, {3, 2, 2}, images.substr(16))), idxLabels, false, Diag::R0204},
      {"IDX of five dims", Format::Idx, write("dims.idx", idx(0x08, {3, 1, 1, 1, 4}, images.substr(16))), idxLabels, false, Diag::R0204},
      {"truncated gzip IDX", Format::Idx, write("short.idx.gz", gz.substr(0, gz.size() / 2)), idxLabels, false, Diag::R0202},
      {"good NPY", Format::Npy, write("good.npy", samples), npyLabels, true},
      {"NPY without magic", Format::Npy, write("magic.npy", "NUMPY" + samples.substr(6)), npyLabels, false, Diag::R0210},
      {"bad NPY header (no fortran_order)", Format::Npy,
       write("header.npy", npy("{'descr': '<f4', 'shape': (3, 2), }", f32({1, 2, 3, 4, 5, 6}))), npyLabels, false, Diag::R0210},
      {"bad NPY header (shape)", Format::Npy,
       write("shape.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, x), }", f32({1, 2, 3, 4, 5, 6}))), npyLabels,
       false, Diag::R0210},
      {"NPY in Fortran order", Format::Npy,
       write("fortran.npy", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2), }", f32({1, 2, 3, 4, 5, 6}))), npyLabels,
       false, Diag::R0210},
      {"NPY of a wrong dtype", Format::Npy,
       write("dtype.npy", npy("{'descr': '<c8', 'fortran_order': False, 'shape': (3, 2), }", std::string(48, '\0'))), npyLabels,
       false, Diag::R0211},
      {"NPY big-endian", Format::Npy,
       write("big.npy", npy("{'descr': '>f4', 'fortran_order': False, 'shape': (3, 2), }", f32({1, 2, 3, 4, 5, 6}))), npyLabels,
       false, Diag::R0211},
      {"truncated NPY data", Format::Npy, write("short.npy", samples.substr(0, samples.size() - 4)), npyLabels, false, Diag::R0203},
      {"good CSV", Format::Csv, write("good.csv", "x,y,label\n1,2.5,0\n3,4,1\n"), "", true},
      {"quoted, spaced CSV", Format::Csv, write("quoted.csv", "x, \"y\" ,label\n 1 ,\"2.5\",0\n\n3,4,1\n"), "", true},
      {"ragged CSV", Format::Csv, write("ragged.csv", "x,y,label\n1,2.5,0\n3,4\n"), "", false, Diag::R0206},
      {"CSV with a non-numeric cell", Format::Csv, write("nan.csv", "x,y,label\n1,abc,0\n3,4,1\n"), "", false, Diag::R0207},
      {"CSV with an empty cell", Format::Csv, write("empty-cell.csv", "x,y,label\n1,,0\n"), "", false, Diag::R0207},
      {"empty CSV", Format::Csv, write("empty.csv", ""), "", false, Diag::R0213},
      {"CSV without a final newline", Format::Csv, write("no-newline.csv", "x,y,label\n1,2.5,0\n3,4,1"), "", true},
      {"CSV with a NUL in a cell", Format::Csv, write("nul.csv", std::string("x,y,label\n1,2\0" "5,0\n", 18)), "", false, Diag::R0207},
      {"CSV with a hex float", Format::Csv, write("hexfloat.csv", "x,y,label\n1,0x1p3,0\n"), "", false, Diag::R0207},
      {"CSV with a hex integer", Format::Csv, write("hex.csv", "x,y,label\n1,0x10,0\n"), "", false, Diag::R0207},
      {"CSV with nan(chars)", Format::Csv, write("nanchars.csv", "x,y,label\n1,nan(7),0\n"), "", false, Diag::R0207},
      {"CSV with a cut exponent", Format::Csv, write("cut-exp.csv", "x,y,label\n1,2,0\n3,4,1e"), "", false, Diag::R0207},
      {"CSV cut inside its last record", Format::Csv, write("cut.csv", "x,y,label\n1,2,0\n3,4"), "", false, Diag::R0206},
      {"CSV with an overlong cell", Format::Csv, write("long.csv", "x,y,label\n1," + std::string(70, '1') + ",0\n"), "", false, Diag::R0207},
      {"NPY with a header length one too long", Format::Npy, write("hlen-long.npy", [&] {
         std::string s = samples; s[8] = static_cast<char>(s[8] + 1); return s; }()), npyLabels, false, Diag::R0210},
      {"NPY with a header length one too short", Format::Npy, write("hlen-short.npy", [&] {
         std::string s = samples; s[8] = static_cast<char>(s[8] - 1); return s; }()), npyLabels, false, Diag::R0210},
      {"NPY header not padded to 64 bytes", Format::Npy, write("unpadded.npy", [&] {
         std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }\n";
         std::string s("\x93NUMPY\x01\x00", 8);
         s += static_cast<char>(h.size()), s += '\0';
         return s + h + f32({1, 2, 3, 4, 5, 6}); }()), npyLabels, false, Diag::R0210},
      {"NPY header not ending in a newline", Format::Npy, write("no-newline.npy", [&] {
         std::string s = samples; s[9 + static_cast<uint8_t>(s[8])] = ' '; return s; }()), npyLabels, false, Diag::R0210},
      {"NPY with bytes after its data", Format::Npy, write("trailing.npy", samples + "junk"), npyLabels, false, Diag::R0219},
      {"IDX with bytes after its data", Format::Idx, write("trailing.idx", images + "x"), idxLabels, false, Diag::R0219},
      {"gzip IDX with bytes after the stream", Format::Idx, write("trailing.idx.gz", gz + "junk"), idxLabels, false, Diag::R0219},
      {"gzip IDX of two members", Format::Idx, write("two.idx.gz", gzip(images.substr(0, 10)) + gzip(images.substr(10))), idxLabels, true},
      {"a directory", Format::Npy, dir().string(), npyLabels, false, Diag::R0201},
  };
  for (const Case& c : cases) {
    INFO(c.what << " (" << c.file << ")");
    std::string checkerWhy, runtimeWhy;
    dls::Diag code = dls::Diag::R0001;
    const bool checker = checkerAccepts(c, checkerWhy);
    const bool runtime = runtimeAccepts(c, code, runtimeWhy);
    INFO("check --data: " << (checker ? "accepts" : checkerWhy) << "; runtime: " << (runtime ? "accepts" : runtimeWhy));
    CHECK(checker == c.accept);
    CHECK(runtime == c.accept);
    if (!c.accept) {
      CHECK(dls::diag_info(code).code == std::string(dls::diag_info(c.runtimeCode).code));
      // Located on both sides: a line, a byte offset or a record (or the file itself when it cannot be read).
      const bool located = c.runtimeCode == Diag::R0201 || c.runtimeCode == Diag::R0213 ||
                           (checkerWhy.find("line ") != std::string::npos || checkerWhy.find("byte ") != std::string::npos);
      CHECK(located);
      if (c.runtimeCode != Diag::R0201 && c.runtimeCode != Diag::R0213)
        CHECK((runtimeWhy.find("line ") != std::string::npos || runtimeWhy.find("byte ") != std::string::npos ||
               runtimeWhy.find("record ") != std::string::npos));
    }
  }
  fs::remove_all(dir());
}
