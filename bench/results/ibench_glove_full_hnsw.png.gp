set terminal pngcairo size 1100,750 noenhanced font 'DejaVu Sans,10'
set output 'bench/results/ibench_glove_full_hnsw.png'
set logscale x
set xlabel 'queries per second (log scale)'
set ylabel 'recall@10'
set grid
set key outside right top
set title 'glove100 (n=331479, k=10): solid = 1 thread, dashed = 2 threads'
$d0 << EOD
15166.678 0.87655
12795.476 0.89635
8617.909 0.92140
6048.248 0.94725
4960.811 0.96085
5540.281 0.97670
5370.438 0.98295
4369.848 0.98985
EOD
$d1 << EOD
38302.167 0.87655
38347.050 0.89635
30870.137 0.92140
20980.021 0.94725
19141.399 0.96085
13156.991 0.97670
10139.706 0.98295
7964.793 0.98985
EOD
$d2 << EOD
19374.253 0.84655
14470.747 0.89565
11943.251 0.92170
8853.751 0.94745
7772.837 0.96090
5299.965 0.97645
3669.847 0.98315
2578.288 0.99015
EOD
$d3 << EOD
38862.156 0.84655
31507.716 0.89565
25520.424 0.92170
18855.077 0.94745
13551.670 0.96090
10783.501 0.97645
8353.396 0.98315
5695.126 0.99015
EOD
plot $d0 using 1:2 with linespoints lc 1 dt 1 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2', \
     $d1 using 1:2 with linespoints lc 1 dt 2 pt 1 title 'hnsw:m=16,efc=200/sq8/rerank=2 (2 thr)', \
     $d2 using 1:2 with linespoints lc 2 dt 1 pt 2 title 'hnswlib:m=16,efc=200', \
     $d3 using 1:2 with linespoints lc 2 dt 2 pt 2 title 'hnswlib:m=16,efc=200 (2 thr)'
