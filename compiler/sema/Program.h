#pragma once
namespace dls::sema {
struct Program {};
}
