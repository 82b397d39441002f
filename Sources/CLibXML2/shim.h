#ifndef TANDEM_CLIBXML2_SHIM_H
#define TANDEM_CLIBXML2_SHIM_H
#include <libxml/xmlwriter.h>
#include <libxml/xmlstring.h>
#endif
