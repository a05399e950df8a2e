set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_synth1m_hnsw.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'synth1m-128-norm-seed1 (n=1000000, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
12409.250 0.56575
11096.881 0.56575
9892.129 0.61085
8412.552 0.68420
5266.185 0.77295
5099.258 0.83095
2668.479 0.93230
EOD
$d1 << EOD
14740.648 0.56575
14830.329 0.56575
21021.628 0.61085
17498.155 0.68420
12935.612 0.77295
11010.744 0.83095
5490.746 0.93230
EOD
$d2 << EOD
15415.840 0.41145
13856.518 0.52180
8489.716 0.62150
7701.765 0.69260
5401.470 0.78365
3756.864 0.83975
2189.660 0.93490
EOD
$d3 << EOD
18249.810 0.41145
14050.053 0.52180
18864.525 0.62150
12692.287 0.69260
10238.051 0.78365
7477.516 0.83975
3906.205 0.93490
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'hnswlib:m=16,efc=200', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'hnswlib:m=16,efc=200 (2 thr)'
