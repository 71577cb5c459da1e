/* phone_countries.c - data: ISO 3166-1 alpha-2 -> ITU-T E.164 country calling code, trunk and
 * international prefixes, and the set of assigned calling codes.
 *
 * Sources:
 * - Calling codes: ITU-T Recommendation E.164, "List of ITU-T Recommendation E.164 assigned
 *   country codes" (Annex to the ITU Operational Bulletin), checked row by row against
 *   libphonenumber's metadata (8.12.57, country_code_for_region), with which every row agrees.
 *   libphonenumber has no entry for seven uninhabited or satellite-served territories; they
 *   carry the code of the numbering plan that serves them: AQ +672 (Australian Antarctic
 *   bases, ITU "Australian External Territories"), HM +672 (same), BV +47 (Norway), GS +500
 *   (with the Falklands), PN +64 (New Zealand), TF +262 (with Reunion), UM +1 (Wake and
 *   Midway use NANP area code 808).
 * - Countries: ISO 3166-1 as shipped by Debian's iso-codes (iso_3166-1.json, 249 codes), plus
 *   XK, the user-assigned code in common use for Kosovo (+383 since 2016).
 * - Shared codes: +1 NANP (US, CA, PR, JM, ... 26 rows with UM), +7 RU and KZ (KZ announced a move
 * to +997 that is not in service), +44 GB GG JE IM, +39 IT and VA (the Vatican's own +379 is
 *   assigned but unused: its numbers are Rome's +39 06 698...), +47 NO SJ BV, +61 AU CX CC,
 *   +262 RE YT TF, +290 SH (with Tristan da Cunha), +358 FI AX, +500 FK GS, +590 GP BL MF,
 *   +599 CW BQ, +672 NF AQ HM, +212 MA EH.
 * - Trunk prefixes ("national prefix") and international prefixes: libphonenumber's
 *   national_prefix / national_prefix_for_parsing and international_prefix. A country without
 *   a trunk prefix whose numbers never start with 0 still has "0" here (a habitual 0 written
 *   in front is dropped); "" marks the countries whose numbers may start with 0 (IT, SM, VA:
 *   0 is part of fixed numbers; BJ since its 2024 move to 10 digits "01..."; BF, CG, CI, GA,
 *   NE, TJ). Two-stage prefixes: BY "8 0..", HU "06", MX's pre-2019 "01"/"044"/"045"/"1".
 *   UZ has no trunk 8 any more (numbers start 20/33/5-9/88). The international prefixes are
 *   the literal ones only; carrier-select families (BR 00xx, KR/TH/SG/HK 00x, ...) rely on
 *   the common "00". */
#include "core/phone.h"

#include <stddef.h>

/* Sorted by iso2 (phone.c searches it with bsearch; test_phone checks the order). */
const struct phone_country phone_countries[] = {
    {"AD", 376, "0", NULL},       /* Andorra */
    {"AE", 971, "0", NULL},       /* United Arab Emirates */
    {"AF", 93, "0", NULL},        /* Afghanistan */
    {"AG", 1, "1", "011"},        /* Antigua and Barbuda */
    {"AI", 1, "1", "011"},        /* Anguilla */
    {"AL", 355, "0", NULL},       /* Albania */
    {"AM", 374, "0", NULL},       /* Armenia */
    {"AO", 244, "0", NULL},       /* Angola */
    {"AQ", 672, "0", NULL},       /* Antarctica */
    {"AR", 54, "0", NULL},        /* Argentina */
    {"AS", 1, "1", "011"},        /* American Samoa */
    {"AT", 43, "0", NULL},        /* Austria */
    {"AU", 61, "0", "0011"},      /* Australia */
    {"AW", 297, "0", NULL},       /* Aruba */
    {"AX", 358, "0", NULL},       /* Aland Islands */
    {"AZ", 994, "0", NULL},       /* Azerbaijan */
    {"BA", 387, "0", NULL},       /* Bosnia and Herzegovina */
    {"BB", 1, "1", "011"},        /* Barbados */
    {"BD", 880, "0", NULL},       /* Bangladesh */
    {"BE", 32, "0", NULL},        /* Belgium */
    {"BF", 226, "", NULL},        /* Burkina Faso */
    {"BG", 359, "0", NULL},       /* Bulgaria */
    {"BH", 973, "0", NULL},       /* Bahrain */
    {"BI", 257, "0", NULL},       /* Burundi */
    {"BJ", 229, "", NULL},        /* Benin */
    {"BL", 590, "0", NULL},       /* Saint Barthelemy */
    {"BM", 1, "1", "011"},        /* Bermuda */
    {"BN", 673, "0", NULL},       /* Brunei Darussalam */
    {"BO", 591, "0", NULL},       /* Bolivia */
    {"BQ", 599, "0", NULL},       /* Bonaire, Sint Eustatius and Saba */
    {"BR", 55, "0", NULL},        /* Brazil */
    {"BS", 1, "1", "011"},        /* Bahamas */
    {"BT", 975, "0", NULL},       /* Bhutan */
    {"BV", 47, "0", NULL},        /* Bouvet Island */
    {"BW", 267, "0", NULL},       /* Botswana */
    {"BY", 375, "80|8|0", "810"}, /* Belarus */
    {"BZ", 501, "0", NULL},       /* Belize */
    {"CA", 1, "1", "011"},        /* Canada */
    {"CC", 61, "0", "0011"},      /* Cocos (Keeling) Islands */
    {"CD", 243, "0", NULL},       /* Congo, The Democratic Republic of the */
    {"CF", 236, "0", NULL},       /* Central African Republic */
    {"CG", 242, "", NULL},        /* Congo */
    {"CH", 41, "0", NULL},        /* Switzerland */
    {"CI", 225, "", NULL},        /* Cote d'Ivoire */
    {"CK", 682, "0", NULL},       /* Cook Islands */
    {"CL", 56, "0", NULL},        /* Chile */
    {"CM", 237, "0", NULL},       /* Cameroon */
    {"CN", 86, "0", NULL},        /* China */
    {"CO", 57, "0", NULL},        /* Colombia */
    {"CR", 506, "0", NULL},       /* Costa Rica */
    {"CU", 53, "0", "119"},       /* Cuba */
    {"CV", 238, "0", "0"},        /* Cabo Verde */
    {"CW", 599, "0", NULL},       /* Curacao */
    {"CX", 61, "0", "0011"},      /* Christmas Island */
    {"CY", 357, "0", NULL},       /* Cyprus */
    {"CZ", 420, "0", NULL},       /* Czechia */
    {"DE", 49, "0", NULL},        /* Germany */
    {"DJ", 253, "0", NULL},       /* Djibouti */
    {"DK", 45, "0", NULL},        /* Denmark */
    {"DM", 1, "1", "011"},        /* Dominica */
    {"DO", 1, "1", "011"},        /* Dominican Republic */
    {"DZ", 213, "0", NULL},       /* Algeria */
    {"EC", 593, "0", NULL},       /* Ecuador */
    {"EE", 372, "0", NULL},       /* Estonia */
    {"EG", 20, "0", NULL},        /* Egypt */
    {"EH", 212, "0", NULL},       /* Western Sahara */
    {"ER", 291, "0", NULL},       /* Eritrea */
    {"ES", 34, "0", NULL},        /* Spain */
    {"ET", 251, "0", NULL},       /* Ethiopia */
    {"FI", 358, "0", NULL},       /* Finland */
    {"FJ", 679, "0", "052"},      /* Fiji */
    {"FK", 500, "0", NULL},       /* Falkland Islands (Malvinas) */
    {"FM", 691, "0", NULL},       /* Micronesia, Federated States of */
    {"FO", 298, "0", NULL},       /* Faroe Islands */
    {"FR", 33, "0", NULL},        /* France */
    {"GA", 241, "", NULL},        /* Gabon */
    {"GB", 44, "0", NULL},        /* United Kingdom */
    {"GD", 1, "1", "011"},        /* Grenada */
    {"GE", 995, "0", NULL},       /* Georgia */
    {"GF", 594, "0", NULL},       /* French Guiana */
    {"GG", 44, "0", NULL},        /* Guernsey */
    {"GH", 233, "0", NULL},       /* Ghana */
    {"GI", 350, "0", NULL},       /* Gibraltar */
    {"GL", 299, "0", NULL},       /* Greenland */
    {"GM", 220, "0", NULL},       /* Gambia */
    {"GN", 224, "0", NULL},       /* Guinea */
    {"GP", 590, "0", NULL},       /* Guadeloupe */
    {"GQ", 240, "0", NULL},       /* Equatorial Guinea */
    {"GR", 30, "0", NULL},        /* Greece */
    {"GS", 500, "0", NULL},       /* South Georgia and the South Sandwich Islands */
    {"GT", 502, "0", NULL},       /* Guatemala */
    {"GU", 1, "1", "011"},        /* Guam */
    {"GW", 245, "0", NULL},       /* Guinea-Bissau */
    {"GY", 592, "0", "001"},      /* Guyana */
    {"HK", 852, "0", NULL},       /* Hong Kong */
    {"HM", 672, "0", NULL},       /* Heard Island and McDonald Islands */
    {"HN", 504, "0", NULL},       /* Honduras */
    {"HR", 385, "0", NULL},       /* Croatia */
    {"HT", 509, "0", NULL},       /* Haiti */
    {"HU", 36, "06", NULL},       /* Hungary */
    {"ID", 62, "0", NULL},        /* Indonesia */
    {"IE", 353, "0", NULL},       /* Ireland */
    {"IL", 972, "0", "012|013|014|015|016|017|018|019"}, /* Israel */
    {"IM", 44, "0", NULL},                               /* Isle of Man */
    {"IN", 91, "0", NULL},                               /* India */
    {"IO", 246, "0", NULL},                              /* British Indian Ocean Territory */
    {"IQ", 964, "0", NULL},                              /* Iraq */
    {"IR", 98, "0", NULL},                               /* Iran */
    {"IS", 354, "0", NULL},                              /* Iceland */
    {"IT", 39, "", NULL},                                /* Italy */
    {"JE", 44, "0", NULL},                               /* Jersey */
    {"JM", 1, "1", "011"},                               /* Jamaica */
    {"JO", 962, "0", NULL},                              /* Jordan */
    {"JP", 81, "0", "010"},                              /* Japan */
    {"KE", 254, "0", "000"},                             /* Kenya */
    {"KG", 996, "0", NULL},                              /* Kyrgyzstan */
    {"KH", 855, "0", NULL},                              /* Cambodia */
    {"KI", 686, "0", NULL},                              /* Kiribati */
    {"KM", 269, "0", NULL},                              /* Comoros */
    {"KN", 1, "1", "011"},                               /* Saint Kitts and Nevis */
    {"KP", 850, "0", NULL},                              /* North Korea */
    {"KR", 82, "0", NULL},                               /* South Korea */
    {"KW", 965, "0", NULL},                              /* Kuwait */
    {"KY", 1, "1", "011"},                               /* Cayman Islands */
    {"KZ", 7, "8", "810"},                               /* Kazakhstan */
    {"LA", 856, "0", NULL},                              /* Laos */
    {"LB", 961, "0", NULL},                              /* Lebanon */
    {"LC", 1, "1", "011"},                               /* Saint Lucia */
    {"LI", 423, "0", NULL},                              /* Liechtenstein */
    {"LK", 94, "0", NULL},                               /* Sri Lanka */
    {"LR", 231, "0", NULL},                              /* Liberia */
    {"LS", 266, "0", NULL},                              /* Lesotho */
    {"LT", 370, "8|0", NULL},                            /* Lithuania */
    {"LU", 352, "0", NULL},                              /* Luxembourg */
    {"LV", 371, "0", NULL},                              /* Latvia */
    {"LY", 218, "0", NULL},                              /* Libya */
    {"MA", 212, "0", NULL},                              /* Morocco */
    {"MC", 377, "0", NULL},                              /* Monaco */
    {"MD", 373, "0", NULL},                              /* Moldova */
    {"ME", 382, "0", NULL},                              /* Montenegro */
    {"MF", 590, "0", NULL},                              /* Saint Martin (French part) */
    {"MG", 261, "0", NULL},                              /* Madagascar */
    {"MH", 692, "1", "011"},                             /* Marshall Islands */
    {"MK", 389, "0", NULL},                              /* North Macedonia */
    {"ML", 223, "0", NULL},                              /* Mali */
    {"MM", 95, "0", NULL},                               /* Myanmar */
    {"MN", 976, "0", "001"},                             /* Mongolia */
    {"MO", 853, "0", NULL},                              /* Macao */
    {"MP", 1, "1", "011"},                               /* Northern Mariana Islands */
    {"MQ", 596, "0", NULL},                              /* Martinique */
    {"MR", 222, "0", NULL},                              /* Mauritania */
    {"MS", 1, "1", "011"},                               /* Montserrat */
    {"MT", 356, "0", NULL},                              /* Malta */
    {"MU", 230, "0", "020"},                             /* Mauritius */
    {"MV", 960, "0", "019"},                             /* Maldives */
    {"MW", 265, "0", NULL},                              /* Malawi */
    {"MX", 52, "044|045|01|0|1", NULL},                  /* Mexico */
    {"MY", 60, "0", NULL},                               /* Malaysia */
    {"MZ", 258, "0", NULL},                              /* Mozambique */
    {"NA", 264, "0", NULL},                              /* Namibia */
    {"NC", 687, "0", NULL},                              /* New Caledonia */
    {"NE", 227, "", NULL},                               /* Niger */
    {"NF", 672, "0", NULL},                              /* Norfolk Island */
    {"NG", 234, "0", "009"},                             /* Nigeria */
    {"NI", 505, "0", NULL},                              /* Nicaragua */
    {"NL", 31, "0", NULL},                               /* Netherlands */
    {"NO", 47, "0", NULL},                               /* Norway */
    {"NP", 977, "0", NULL},                              /* Nepal */
    {"NR", 674, "0", NULL},                              /* Nauru */
    {"NU", 683, "0", NULL},                              /* Niue */
    {"NZ", 64, "0", NULL},                               /* New Zealand */
    {"OM", 968, "0", NULL},                              /* Oman */
    {"PA", 507, "0", NULL},                              /* Panama */
    {"PE", 51, "0", NULL},                               /* Peru */
    {"PF", 689, "0", NULL},                              /* French Polynesia */
    {"PG", 675, "0", NULL},                              /* Papua New Guinea */
    {"PH", 63, "0", NULL},                               /* Philippines */
    {"PK", 92, "0", NULL},                               /* Pakistan */
    {"PL", 48, "0", NULL},                               /* Poland */
    {"PM", 508, "0", NULL},                              /* Saint Pierre and Miquelon */
    {"PN", 64, "0", NULL},                               /* Pitcairn */
    {"PR", 1, "1", "011"},                               /* Puerto Rico */
    {"PS", 970, "0", NULL},                              /* Palestine, State of */
    {"PT", 351, "0", NULL},                              /* Portugal */
    {"PW", 680, "0", "011|012"},                         /* Palau */
    {"PY", 595, "0", NULL},                              /* Paraguay */
    {"QA", 974, "0", NULL},                              /* Qatar */
    {"RE", 262, "0", NULL},                              /* Reunion */
    {"RO", 40, "0", NULL},                               /* Romania */
    {"RS", 381, "0", NULL},                              /* Serbia */
    {"RU", 7, "8", "810"},                               /* Russian Federation */
    {"RW", 250, "0", NULL},                              /* Rwanda */
    {"SA", 966, "0", NULL},                              /* Saudi Arabia */
    {"SB", 677, "0", "01"},                              /* Solomon Islands */
    {"SC", 248, "0", "010|01|02"},                       /* Seychelles */
    {"SD", 249, "0", NULL},                              /* Sudan */
    {"SE", 46, "0", NULL},                               /* Sweden */
    {"SG", 65, "0", NULL},                               /* Singapore */
    {"SH", 290, "0", NULL},  /* Saint Helena, Ascension and Tristan da Cunha */
    {"SI", 386, "0", NULL},  /* Slovenia */
    {"SJ", 47, "0", NULL},   /* Svalbard and Jan Mayen */
    {"SK", 421, "0", NULL},  /* Slovakia */
    {"SL", 232, "0", NULL},  /* Sierra Leone */
    {"SM", 378, "", NULL},   /* San Marino */
    {"SN", 221, "0", NULL},  /* Senegal */
    {"SO", 252, "0", NULL},  /* Somalia */
    {"SR", 597, "0", NULL},  /* Suriname */
    {"SS", 211, "0", NULL},  /* South Sudan */
    {"ST", 239, "0", NULL},  /* Sao Tome and Principe */
    {"SV", 503, "0", NULL},  /* El Salvador */
    {"SX", 1, "1", "011"},   /* Sint Maarten (Dutch part) */
    {"SY", 963, "0", NULL},  /* Syria */
    {"SZ", 268, "0", NULL},  /* Eswatini */
    {"TC", 1, "1", "011"},   /* Turks and Caicos Islands */
    {"TD", 235, "0", NULL},  /* Chad */
    {"TF", 262, "0", NULL},  /* French Southern Territories */
    {"TG", 228, "0", NULL},  /* Togo */
    {"TH", 66, "0", NULL},   /* Thailand */
    {"TJ", 992, "", "810"},  /* Tajikistan */
    {"TK", 690, "0", NULL},  /* Tokelau */
    {"TL", 670, "0", NULL},  /* Timor-Leste */
    {"TM", 993, "8", "810"}, /* Turkmenistan */
    {"TN", 216, "0", NULL},  /* Tunisia */
    {"TO", 676, "0", NULL},  /* Tonga */
    {"TR", 90, "0", NULL},   /* Turkiye */
    {"TT", 1, "1", "011"},   /* Trinidad and Tobago */
    {"TV", 688, "0", NULL},  /* Tuvalu */
    {"TW", 886, "0", NULL},  /* Taiwan */
    {"TZ", 255, "0", "000"}, /* Tanzania */
    {"UA", 380, "0", NULL},  /* Ukraine */
    {"UG", 256, "0", "000"}, /* Uganda */
    {"UM", 1, "1", "011"},   /* United States Minor Outlying Islands */
    {"US", 1, "1", "011"},   /* United States */
    {"UY", 598, "0", NULL},  /* Uruguay */
    {"UZ", 998, "0", "810"}, /* Uzbekistan */
    {"VA", 39, "", NULL},    /* Holy See (Vatican City State) */
    {"VC", 1, "1", "011"},   /* Saint Vincent and the Grenadines */
    {"VE", 58, "0", NULL},   /* Venezuela */
    {"VG", 1, "1", "011"},   /* Virgin Islands, British */
    {"VI", 1, "1", "011"},   /* Virgin Islands, U.S. */
    {"VN", 84, "0", NULL},   /* Vietnam */
    {"VU", 678, "0", NULL},  /* Vanuatu */
    {"WF", 681, "0", NULL},  /* Wallis and Futuna */
    {"WS", 685, "0", "0"},   /* Samoa */
    {"XK", 383, "0", NULL},  /* Kosovo */
    {"YE", 967, "0", NULL},  /* Yemen */
    {"YT", 262, "0", NULL},  /* Mayotte */
    {"ZA", 27, "0", NULL},   /* South Africa */
    {"ZM", 260, "0", NULL},  /* Zambia */
    {"ZW", 263, "0", NULL},  /* Zimbabwe */
};
const size_t phone_countries_len = sizeof phone_countries / sizeof phone_countries[0];

/* ITU-T E.164 country codes assigned and in service: geographic codes, plus the
 * non-geographic ones (800 freephone, 808 shared cost, 870 Inmarsat, 878 UPT, 881 GMSS
 * satellite, 882/883 international networks, 888 OCHA, 979 premium rate). Not included:
 * spare codes (0, 28x, 210, 214, 215, 217, 219, 259, 292-296, 384, 422, 424-429, 671, 684,
 * 693-699, 801-807, 809, 83x, 851, 854, 857-869, 871-874 (former Inmarsat regions),
 * 884-887 except 886, 889, 89x, 969, 978, 990, 997, 999) and codes assigned but reserved
 * or unused (379 Vatican, 388 shared European code, 875-877 maritime, 879, 991 trial).
 * The set is prefix-free: no code is the beginning of another. */
const unsigned short phone_calling_codes[] = {
    1,   7,   20,  27,  30,  31,  32,  33,  34,  36,  39,  40,  41,  43,  44,  45,  46,  47,
    48,  49,  51,  52,  53,  54,  55,  56,  57,  58,  60,  61,  62,  63,  64,  65,  66,  81,
    82,  84,  86,  90,  91,  92,  93,  94,  95,  98,  211, 212, 213, 216, 218, 220, 221, 222,
    223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234, 235, 236, 237, 238, 239, 240,
    241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255, 256, 257, 258,
    260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 290, 291, 297, 298, 299, 350, 351, 352,
    353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 374, 375, 376, 377, 378, 380, 381,
    382, 383, 385, 386, 387, 389, 420, 421, 423, 500, 501, 502, 503, 504, 505, 506, 507, 508,
    509, 590, 591, 592, 593, 594, 595, 596, 597, 598, 599, 670, 672, 673, 674, 675, 676, 677,
    678, 679, 680, 681, 682, 683, 685, 686, 687, 688, 689, 690, 691, 692, 800, 808, 850, 852,
    853, 855, 856, 870, 878, 880, 881, 882, 883, 886, 888, 960, 961, 962, 963, 964, 965, 966,
    967, 968, 970, 971, 972, 973, 974, 975, 976, 977, 979, 992, 993, 994, 995, 996, 998,
};
const size_t phone_calling_codes_len = sizeof phone_calling_codes / sizeof phone_calling_codes[0];

/* Calling codes whose plans fix the length of national numbers more tightly than E.164's
 * general 8..15 digits after "+" (libphonenumber possible_length, ITU national plans). The
 * three small plans have 4-digit numbers, so 7 digits in all are a complete number there. */
const struct phone_plan_len phone_plan_lens[] = {
    {1, 10, 10}, /* NANP: NPA-NXX-XXXX, always 10 */
    {7, 10, 10}, /* Russia and Kazakhstan: 10 (3-digit area/ABC/DEF code + 7) */
    {290, 4, 5}, /* St Helena 5 digits, Tristan da Cunha 4 (8xxx) */
    {683, 4, 7}, /* Niue: fixed lines 4 (4xxx, 7xxx), mobiles 7 (888 4xxx) */
    {690, 4, 7}, /* Tokelau: 4 to 7 */
};
const size_t phone_plan_lens_len = sizeof phone_plan_lens / sizeof phone_plan_lens[0];
