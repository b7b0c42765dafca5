package procinfo

var ParseStat = parseStat
