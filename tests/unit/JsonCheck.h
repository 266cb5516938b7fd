// A small strict JSON parser for checking what the renderers print (not a general-purpose library).
#pragma once
#include <cctype>
#include <map>
#include <string>
#include <vector>

namespace json {

struct Value {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  double num = 0;
  std::string str;
  std::vector<Value> items;
  std::map<std::string, Value> fields;
  bool isObject() const { return kind == Object; }
  bool isArray() const { return kind == Array; }
  bool isString() const { return kind == String; }
  bool isNumber() const { return kind == Number; }
  Value& operator[](const std::string& k) {
    static Value none;
    auto it = fields.find(k);
    return it == fields.end() ? (none = Value{}) : it->second;
  }
};

struct Parser {
  const std::string& s;
  size_t i = 0;
  void ws() { while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i; }
  bool lit(const char* w) {
    size_t n = std::char_traits<char>::length(w);
    if (s.compare(i, n, w) != 0) return false;
    i += n;
    return true;
  }
  bool string(std::string& out) {
    if (i >= s.size() || s[i] != '"') return false;
    ++i;
    while (i < s.size() && s[i] != '"') {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c < 0x20) return false;  // control characters must be escaped
      if (c == '\\') {
        if (++i >= s.size()) return false;
        char e = s[i];
        if (e == 'u') {
          if (i + 4 >= s.size()) return false;
          for (int k = 1; k <= 4; ++k)
            if (!std::isxdigit(static_cast<unsigned char>(s[i + k]))) return false;
          out += '?';
          i += 5;
          continue;
        }
        if (std::string("\"\\/bfnrt").find(e) == std::string::npos) return false;
        out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
        ++i;
        continue;
      }
      out += s[i++];
    }
    if (i >= s.size()) return false;
    ++i;
    return true;
  }
  bool value(Value& v) {
    ws();
    if (i >= s.size()) return false;
    char c = s[i];
    if (c == '{') {
      v.kind = Value::Object;
      ++i;
      ws();
      if (i < s.size() && s[i] == '}') return ++i, true;
      for (;;) {
        ws();
        std::string k;
        if (!string(k)) return false;
        ws();
        if (i >= s.size() || s[i++] != ':') return false;
        if (!value(v.fields[k])) return false;
        ws();
        if (i < s.size() && s[i] == ',') { ++i; continue; }
        if (i < s.size() && s[i] == '}') return ++i, true;
        return false;
      }
    }
    if (c == '[') {
      v.kind = Value::Array;
      ++i;
      ws();
      if (i < s.size() && s[i] == ']') return ++i, true;
      for (;;) {
        v.items.emplace_back();
        if (!value(v.items.back())) return false;
        ws();
        if (i < s.size() && s[i] == ',') { ++i; continue; }
        if (i < s.size() && s[i] == ']') return ++i, true;
        return false;
      }
    }
    if (c == '"') { v.kind = Value::String; return string(v.str); }
    if (lit("true") || lit("false")) { v.kind = Value::Bool; return true; }
    if (lit("null")) return true;
    size_t start = i;
    if (s[i] == '-') ++i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == 'e' || s[i] == 'E' || s[i] == '+' || s[i] == '-')) ++i;
    if (i == start) return false;
    v.kind = Value::Number;
    v.num = std::stod(s.substr(start, i - start));
    return true;
  }
};

inline bool parse(const std::string& text, Value& v) {
  Parser p{text};
  if (!p.value(v)) return false;
  p.ws();
  return p.i == text.size();
}

}  // namespace json
