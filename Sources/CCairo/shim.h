// Cairo's image surfaces: the pictures' drawing (anti-aliased text through FreeType and
// fontconfig, lines, fills).
#include <cairo.h>
