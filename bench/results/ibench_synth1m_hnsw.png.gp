set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_synth1m_hnsw.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'synth1m-128-norm-seed1 (n=1000000, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
16142.272 0.68455
7077.154 0.83090
5908.616 0.93230
2713.583 0.96430
3198.368 0.97330
2514.828 0.98310
EOD
$d1 << EOD
30144.101 0.68455
18295.818 0.83090
10454.674 0.93230
6271.131 0.96430
6250.995 0.97330
4396.389 0.98310
EOD
$d2 << EOD
4618.159 0.69375
2070.076 0.84280
1820.082 0.93910
681.303 0.96840
1012.320 0.98020
822.721 0.99065
EOD
$d3 << EOD
13656.025 0.69375
6329.545 0.84280
3055.658 0.93910
2227.567 0.96840
2260.437 0.98020
1467.705 0.99065
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'hnswlib:m=16,efc=200', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'hnswlib:m=16,efc=200 (2 thr)'
